package flow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// A Value is a JSON value that keeps object key order and exact numbers:
// nil (null), bool, json.Number, string, []Value, or *Object. Flow inputs,
// node outputs and persisted state all use it, so wildcard results come out
// in document order and a Number round-trips unchanged.
type Value = any

// Object is a JSON object with its keys in document order.
type Object struct {
	Keys []string
	Vals map[string]Value
}

// Get returns the member named k.
func (o *Object) Get(k string) (Value, bool) {
	v, ok := o.Vals[k]
	return v, ok
}

// Set sets member k, appending it if new.
func (o *Object) Set(k string, v Value) {
	if o.Vals == nil {
		o.Vals = map[string]Value{}
	}
	if _, ok := o.Vals[k]; !ok {
		o.Keys = append(o.Keys, k)
	}
	o.Vals[k] = v
}

// MarshalJSON writes the members in order.
func (o *Object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.Keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := MarshalValue(o.Vals[k])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// MarshalValue encodes v as JSON.
func MarshalValue(v Value) ([]byte, error) {
	switch x := v.(type) {
	case []Value:
		var b bytes.Buffer
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			eb, err := MarshalValue(e)
			if err != nil {
				return nil, err
			}
			b.Write(eb)
		}
		b.WriteByte(']')
		return b.Bytes(), nil
	case *Object:
		return x.MarshalJSON()
	default:
		return json.Marshal(x)
	}
}

// maxDepth bounds nesting when decoding untrusted JSON.
const maxDepth = 200

// ParseValue decodes one JSON document into a Value.
func ParseValue(data []byte) (Value, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	v, err := decodeValue(d, 0)
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("invalid JSON: data after the value")
	}
	return v, nil
}

func decodeValue(d *json.Decoder, depth int) (Value, error) {
	if depth > maxDepth {
		return nil, errors.New("invalid JSON: nested too deeply")
	}
	t, err := d.Token()
	if err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	switch x := t.(type) {
	case json.Delim:
		switch x {
		case '{':
			o := &Object{Vals: map[string]Value{}}
			for d.More() {
				kt, err := d.Token()
				if err != nil {
					return nil, fmt.Errorf("invalid JSON: %w", err)
				}
				k, _ := kt.(string)
				v, err := decodeValue(d, depth+1)
				if err != nil {
					return nil, err
				}
				o.Set(k, v)
			}
			if _, err := d.Token(); err != nil {
				return nil, fmt.Errorf("invalid JSON: %w", err)
			}
			return o, nil
		case '[':
			a := []Value{}
			for d.More() {
				v, err := decodeValue(d, depth+1)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			if _, err := d.Token(); err != nil {
				return nil, fmt.Errorf("invalid JSON: %w", err)
			}
			return a, nil
		}
		return nil, errors.New("invalid JSON: unexpected delimiter")
	default:
		return x, nil // nil, bool, json.Number, string
	}
}

// TypeOf returns the flow data type of v: String, Number, Boolean, Object
// or Array; null has none ("").
func TypeOf(v Value) string {
	switch v.(type) {
	case string:
		return TypeString
	case json.Number:
		return TypeNumber
	case bool:
		return TypeBoolean
	case *Object:
		return TypeObject
	case []Value:
		return TypeArray
	}
	return ""
}

// numberOf returns v as a float64 when it is a Number.
func numberOf(v Value) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(n), 64)
	return f, err == nil
}

// Flow data types (FlowNodeIODataType).
const (
	TypeString  = "String"
	TypeNumber  = "Number"
	TypeBoolean = "Boolean"
	TypeObject  = "Object"
	TypeArray   = "Array"
)

func jsonNumber(n int64) json.Number { return json.Number(strconv.FormatInt(n, 10)) }
