package promptrouter

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
)

// dim is the number of weights of one head.
const dim = 1<<hashBits + numDense

// Model predicts, for a prompt, the probability that the weak model and the
// strong model of a pair answer it correctly: two logistic-regression heads
// over the same hashed n-gram and structural features.
type Model struct {
	// Name identifies the artefact (data, split, version).
	Name string
	// Weak and Strong are the two heads.
	Weak, Strong head
	// mean and std standardize the dense features.
	mean, std [numDense]float64
}

type head struct {
	Bias float32
	W    []float32 // len dim
}

func (h *head) score(x []feature) float64 {
	s := float64(h.Bias)
	for _, f := range x {
		s += float64(h.W[f.i] * f.v)
	}
	return s
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

var featPool = sync.Pool{New: func() any { s := make([]feature, 0, 512); return &s }}

// Predict returns the predicted probabilities that the weak and the strong
// model answer text correctly.
func (m *Model) Predict(text string) (weak, strong float64) {
	p := featPool.Get().(*[]feature)
	x := m.input(text, *p)
	weak, strong = sigmoid(m.Weak.score(x)), sigmoid(m.Strong.score(x))
	*p = x
	featPool.Put(p)
	return weak, strong
}

// Gap returns the predicted relative quality loss of the weak model,
// (strong − weak) / strong, clamped to [0, 1]: the quantity Bedrock's
// responseQualityDifference bounds.
func (m *Model) Gap(text string) float64 {
	w, s := m.Predict(text)
	if s <= 0 {
		return 0
	}
	g := (s - w) / s
	return min(max(g, 0), 1)
}

// input computes standardized features.
func (m *Model) input(text string, dst []feature) []feature {
	x := features(text, dst)
	for k := range x {
		if j := x[k].i - 1<<hashBits; j >= 0 {
			x[k].v = float32((float64(x[k].v) - m.mean[j]) / m.std[j])
		}
	}
	return x
}

// Artefact format, little-endian:
//
//	"OCPR" | version u32 | hashBits u32 | numDense u32 | name len u32 | name
//	mean [numDense]f64 | std [numDense]f64
//	weak bias f32 | weak weights [dim]f32 | strong bias f32 | strong weights [dim]f32
//	sha256 of everything above
const (
	magic         = "OCPR"
	formatVersion = 1
)

// MarshalBinary encodes the model as a versioned artefact with a checksum.
func (m *Model) MarshalBinary() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(magic)
	for _, v := range []uint32{formatVersion, hashBits, numDense, uint32(len(m.Name))} {
		binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString(m.Name)
	binary.Write(&b, binary.LittleEndian, m.mean)
	binary.Write(&b, binary.LittleEndian, m.std)
	for _, h := range []*head{&m.Weak, &m.Strong} {
		if len(h.W) != dim {
			return nil, fmt.Errorf("head has %d weights, want %d", len(h.W), dim)
		}
		binary.Write(&b, binary.LittleEndian, h.Bias)
		binary.Write(&b, binary.LittleEndian, h.W)
	}
	sum := sha256.Sum256(b.Bytes())
	b.Write(sum[:])
	return b.Bytes(), nil
}

// UnmarshalBinary decodes an artefact written by MarshalBinary, checking
// its format, shape and checksum.
func (m *Model) UnmarshalBinary(data []byte) error {
	if len(data) < len(magic)+16+sha256.Size || string(data[:4]) != magic {
		return errors.New("promptrouter: not a router artefact")
	}
	body, sum := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return errors.New("promptrouter: artefact checksum mismatch")
	}
	r := bytes.NewReader(body[4:])
	var hdr [4]uint32
	if err := binary.Read(r, binary.LittleEndian, &hdr); err != nil {
		return fmt.Errorf("promptrouter: %w", err)
	}
	if hdr[0] != formatVersion || hdr[1] != hashBits || hdr[2] != numDense {
		return fmt.Errorf("promptrouter: artefact format %d/%d/%d, want %d/%d/%d", hdr[0], hdr[1], hdr[2], formatVersion, hashBits, numDense)
	}
	if int(hdr[3]) > r.Len() {
		return errors.New("promptrouter: truncated artefact")
	}
	name := make([]byte, hdr[3])
	r.Read(name)
	var out Model
	out.Name = string(name)
	if err := binary.Read(r, binary.LittleEndian, &out.mean); err != nil {
		return fmt.Errorf("promptrouter: %w", err)
	}
	if err := binary.Read(r, binary.LittleEndian, &out.std); err != nil {
		return fmt.Errorf("promptrouter: %w", err)
	}
	for _, h := range []*head{&out.Weak, &out.Strong} {
		h.W = make([]float32, dim)
		if err := binary.Read(r, binary.LittleEndian, &h.Bias); err != nil {
			return fmt.Errorf("promptrouter: %w", err)
		}
		if err := binary.Read(r, binary.LittleEndian, h.W); err != nil {
			return fmt.Errorf("promptrouter: %w", err)
		}
	}
	if r.Len() != 0 {
		return errors.New("promptrouter: trailing bytes in artefact")
	}
	for j := range numDense {
		if !(out.std[j] > 0) || math.IsInf(out.std[j], 0) || math.IsNaN(out.mean[j]) || math.IsInf(out.mean[j], 0) {
			return errors.New("promptrouter: artefact has invalid feature scaling")
		}
	}
	*m = out
	return nil
}
