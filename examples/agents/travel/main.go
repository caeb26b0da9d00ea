// Command travel-actions is the travel agent's action executor: an HTTP
// server that speaks the Bedrock agent Lambda contract for the
// TravelActions action group (search_flights, book_flight), so that
// Outcrop's agents.lambda_endpoints can point the group's Lambda ARN at it.
//
//	go run ./examples/agents/travel -listen 127.0.0.1:9001
//
// See README.md in this directory for the whole walkthrough.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"strings"
	"sync"
)

// event is the part of the Lambda input event the executor reads.
type event struct {
	MessageVersion string `json:"messageVersion"`
	ActionGroup    string `json:"actionGroup"`
	Function       string `json:"function"`
	SessionID      string `json:"sessionId"`
	Parameters     []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"parameters"`
}

type flight struct {
	ID          string `json:"id"`
	Origin      string `json:"origin"`
	Destination string `json:"destination"`
	Date        string `json:"date"`
	Price       int    `json:"priceEUR"`
}

type executor struct {
	mu       sync.Mutex
	bookings map[string]string // confirmation → flight id
}

func (x *executor) handle(ev *event) (string, error) {
	p := map[string]string{}
	for _, pr := range ev.Parameters {
		p[pr.Name] = pr.Value
	}
	switch ev.Function {
	case "search_flights":
		code := strings.ToUpper(p["destination"])
		if len(code) > 3 {
			code = code[:3]
		}
		fs := []flight{
			{ID: "OC" + code + "1", Origin: p["origin"], Destination: p["destination"], Date: p["date"], Price: 120},
			{ID: "OC" + code + "2", Origin: p["origin"], Destination: p["destination"], Date: p["date"], Price: 95},
		}
		b, err := json.Marshal(map[string]any{"flights": fs})
		return string(b), err
	case "book_flight":
		if p["flightId"] == "" {
			return "", fmt.Errorf("flightId is required")
		}
		x.mu.Lock()
		conf := fmt.Sprintf("CONF%04d", len(x.bookings)+1)
		x.bookings[conf] = p["flightId"]
		x.mu.Unlock()
		b, err := json.Marshal(map[string]string{"status": "CONFIRMED", "flightId": p["flightId"], "confirmation": conf})
		return string(b), err
	}
	return "", fmt.Errorf("unknown function %q", ev.Function)
}

func (x *executor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var ev event
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&ev); err != nil || ev.MessageVersion != "1.0" {
		http.Error(w, "not a Bedrock agent Lambda input event", http.StatusBadRequest)
		return
	}
	body, err := x.handle(&ev)
	state := ""
	if err != nil {
		// REPROMPT gives the error to the model, which may correct itself.
		body, state = err.Error(), "REPROMPT"
	}
	fr := map[string]any{"responseBody": map[string]any{"TEXT": map[string]string{"body": body}}}
	if state != "" {
		fr["responseState"] = state
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"messageVersion": "1.0", "response": map[string]any{
		"actionGroup": ev.ActionGroup, "function": ev.Function, "functionResponse": fr}})
}

func main() {
	listen := flag.String("listen", "127.0.0.1:9001", "address to serve the action executor on")
	flag.Parse()
	x := &executor{bookings: map[string]string{}}
	log.Printf("travel actions on http://%s/", *listen)
	log.Fatal(http.ListenAndServe(*listen, x))
}
