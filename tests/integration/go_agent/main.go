// A Go agent written like the Beluga integration guide, used by tests/test_go_interop.py to prove
// that Python and Go agents understand each other byte for byte.
//
//	go_agent publish URL SUBJECT TRACEPARENT   publish one Message with a traceparent header
//	go_agent subscribe URL SUBJECT COUNT       print each Message received (re-marshalled) and its traceparent
//	go_agent request URL SUBJECT               send a request Message, print the reply
//	go_agent reply URL SUBJECT COUNT           answer COUNT requests with a Message echoing the payload
//	go_agent service URL NAME PREFIX           run a services-protocol v1 service (see service.go) until killed
//	go_agent service-client URL NAME COUNT     discover COUNT instances of NAME, call every endpoint, print JSON
//	go_agent headers-publish URL SUBJECT       publish one message whose headers repeat names (Header.Add)
//	go_agent headers-echo URL SUBJECT          print one message's headers as JSON (Header.Values of X-Tag
//	                                           beside the whole Header) and answer it with those headers
//	                                           plus a name added twice
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
)

type Message struct {
	Type      string
	Payload   map[string]interface{}
	Timestamp time.Time
	MessageID string
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 4 {
		fail("usage: go_agent publish|subscribe|request|reply URL SUBJECT [ARG]")
	}
	mode, url, subject := os.Args[1], os.Args[2], os.Args[3]
	nc, err := nats.Connect(url, nats.Timeout(5*time.Second))
	if err != nil {
		fail("connect: %v", err)
	}
	defer nc.Close()
	zone := time.FixedZone("", 2*3600)

	switch mode {
	case "publish":
		msg := Message{
			Type:      "from-go",
			Payload:   map[string]interface{}{"task": "process", "n": 42, "nested": map[string]interface{}{"ok": true}, "html": "<a&b>"},
			Timestamp: time.Date(2026, 11, 25, 18, 20, 50, 123456789, zone),
			MessageID: "go-1",
		}
		data, err := json.Marshal(msg)
		if err != nil {
			fail("marshal: %v", err)
		}
		m := nats.NewMsg(subject)
		m.Data = data
		m.Header.Set("traceparent", os.Args[4])
		if err := nc.PublishMsg(m); err != nil {
			fail("publish: %v", err)
		}
		if err := nc.Flush(); err != nil {
			fail("flush: %v", err)
		}
	case "subscribe":
		count, _ := strconv.Atoi(os.Args[4])
		sub, err := nc.SubscribeSync(subject)
		if err != nil {
			fail("subscribe: %v", err)
		}
		nc.Flush()
		fmt.Println("ready")
		for i := 0; i < count; i++ {
			m, err := sub.NextMsg(10 * time.Second)
			if err != nil {
				fail("next: %v", err)
			}
			var msg Message
			if err := json.Unmarshal(m.Data, &msg); err != nil {
				fail("unmarshal: %v", err)
			}
			out, _ := json.Marshal(msg)
			fmt.Printf("%s\t%s\n", out, m.Header.Get("traceparent"))
		}
	case "request":
		req := Message{Type: "go-question", Payload: map[string]interface{}{"q": 7}, Timestamp: time.Now(), MessageID: "go-req"}
		data, _ := json.Marshal(req)
		m, err := nc.Request(subject, data, 5*time.Second)
		if err != nil {
			fail("request: %v", err)
		}
		var reply Message
		if err := json.Unmarshal(m.Data, &reply); err != nil {
			fail("unmarshal reply: %v", err)
		}
		out, _ := json.Marshal(reply)
		fmt.Println(string(out))
	case "reply":
		count, _ := strconv.Atoi(os.Args[4])
		sub, err := nc.SubscribeSync(subject)
		if err != nil {
			fail("subscribe: %v", err)
		}
		nc.Flush()
		fmt.Println("ready")
		for i := 0; i < count; i++ {
			m, err := sub.NextMsg(10 * time.Second)
			if err != nil {
				fail("next: %v", err)
			}
			var req Message
			if err := json.Unmarshal(m.Data, &req); err != nil {
				fail("unmarshal request: %v", err)
			}
			reply := Message{Type: "go-reply", Payload: map[string]interface{}{"echo": req.Payload, "type": req.Type},
				Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), MessageID: "go-rep"}
			data, _ := json.Marshal(reply)
			m.Respond(data)
		}
		nc.Flush()
	case "service":
		if len(os.Args) < 5 {
			fail("usage: go_agent service URL NAME PREFIX")
		}
		runService(nc, subject, os.Args[4])
	case "service-client":
		count := 1
		if len(os.Args) > 4 {
			count, _ = strconv.Atoi(os.Args[4])
		}
		runServiceClient(nc, subject, count)
	case "headers-publish":
		m := nats.NewMsg(subject)
		m.Data = []byte("go headers")
		m.Header.Add("X-Tag", "a")
		m.Header.Add("X-Tag", "b, with a comma")
		m.Header.Add("x-tag", "lower") // a different key: nats.go keys are case-sensitive
		m.Header.Set("Single", "s")
		m.Header.Add("X-Tag", "c")
		if err := nc.PublishMsg(m); err != nil {
			fail("publish: %v", err)
		}
		if err := nc.Flush(); err != nil {
			fail("flush: %v", err)
		}
	case "headers-echo":
		sub, err := nc.SubscribeSync(subject)
		if err != nil {
			fail("subscribe: %v", err)
		}
		nc.Flush()
		fmt.Println("ready")
		m, err := sub.NextMsg(10 * time.Second)
		if err != nil {
			fail("next: %v", err)
		}
		out, _ := json.Marshal(map[string]interface{}{"values": m.Header.Values("X-Tag"), "header": m.Header})
		fmt.Println(string(out))
		if m.Reply != "" {
			rep := nats.NewMsg(m.Reply)
			for k, vs := range m.Header {
				for _, v := range vs {
					rep.Header.Add(k, v)
				}
			}
			rep.Header.Add("Go-Added", "1")
			rep.Header.Add("Go-Added", "2")
			if err := m.RespondMsg(rep); err != nil {
				fail("respond: %v", err)
			}
			nc.Flush()
		}
	default:
		fail("unknown mode %q", mode)
	}
}

// -- the services protocol v1, on plain nats.go --------------------------------------------------
//
// Debian's nats.go 1.22.1 ships a pre-v1 preview of micro (one endpoint, no type or metadata, a flat
// STATS), so this speaks v1 as upstream micro/service.go writes it, with Subscribe only.

type serviceIdentity struct {
	Name     string            `json:"name"`
	ID       string            `json:"id"`
	Version  string            `json:"version"`
	Metadata map[string]string `json:"metadata"`
}

type pingResponse struct {
	serviceIdentity
	Type string `json:"type"`
}

type endpointInfo struct {
	Name       string            `json:"name"`
	Subject    string            `json:"subject"`
	QueueGroup string            `json:"queue_group"`
	Metadata   map[string]string `json:"metadata"`
}

type infoResponse struct {
	serviceIdentity
	Type        string         `json:"type"`
	Description string         `json:"description"`
	Endpoints   []endpointInfo `json:"endpoints"`
}

type endpointStats struct {
	Name                  string          `json:"name"`
	Subject               string          `json:"subject"`
	QueueGroup            string          `json:"queue_group"`
	NumRequests           int             `json:"num_requests"`
	NumErrors             int             `json:"num_errors"`
	LastError             string          `json:"last_error"`
	ProcessingTime        time.Duration   `json:"processing_time"`
	AverageProcessingTime time.Duration   `json:"average_processing_time"`
	Data                  json.RawMessage `json:"data,omitempty"`
}

type statsResponse struct {
	serviceIdentity
	Type      string           `json:"type"`
	Started   time.Time        `json:"started"`
	Endpoints []*endpointStats `json:"endpoints"`
}

type goEndpoint struct {
	info  endpointInfo
	stats endpointStats
	// handle answers the request; a non-empty code is an error answer, counted as one
	handle func(m *nats.Msg) (code, description string)
}

// runService serves "echo" (upper-cases the data) and "fail" (answers error 422) under PREFIX,
// and answers PING, INFO and STATS on the nine control subjects, until the process is killed.
func runService(nc *nats.Conn, name, prefix string) {
	var mu sync.Mutex
	id := nuid.Next()
	ident := serviceIdentity{Name: name, ID: id, Version: "0.3.0", Metadata: map[string]string{"lang": "go"}}
	started := time.Now().UTC()
	endpoints := []*goEndpoint{
		{
			info: endpointInfo{Name: "echo", Subject: prefix + ".echo", QueueGroup: "q", Metadata: map[string]string{"does": "upper"}},
			handle: func(m *nats.Msg) (string, string) {
				m.Respond(bytes.ToUpper(m.Data))
				return "", ""
			},
		},
		{
			info: endpointInfo{Name: "fail", Subject: prefix + ".fail", QueueGroup: "q"},
			handle: func(m *nats.Msg) (string, string) {
				rep := nats.NewMsg(m.Reply)
				rep.Header.Set("Nats-Service-Error", "go says no")
				rep.Header.Set("Nats-Service-Error-Code", "422")
				rep.Data = []byte("details")
				m.RespondMsg(rep)
				return "422", "go says no"
			},
		},
	}
	for _, e := range endpoints {
		e := e
		e.stats = endpointStats{Name: e.info.Name, Subject: e.info.Subject, QueueGroup: e.info.QueueGroup}
		_, err := nc.QueueSubscribe(e.info.Subject, e.info.QueueGroup, func(m *nats.Msg) {
			start := time.Now()
			code, description := e.handle(m)
			mu.Lock()
			defer mu.Unlock()
			e.stats.NumRequests++
			e.stats.ProcessingTime += time.Since(start)
			e.stats.AverageProcessingTime = e.stats.ProcessingTime / time.Duration(e.stats.NumRequests)
			if code != "" {
				e.stats.NumErrors++
				e.stats.LastError = code + ":" + description
			}
		})
		if err != nil {
			fail("subscribe %s: %v", e.info.Subject, err)
		}
	}
	answer := func(verb string) func(m *nats.Msg) {
		return func(m *nats.Msg) {
			mu.Lock()
			var doc interface{}
			switch verb {
			case "PING":
				doc = pingResponse{ident, "io.nats.micro.v1.ping_response"}
			case "INFO":
				infos := []endpointInfo{}
				for _, e := range endpoints {
					infos = append(infos, e.info)
				}
				doc = infoResponse{ident, "io.nats.micro.v1.info_response", "a Go agent", infos}
			default:
				stats := []*endpointStats{}
				for _, e := range endpoints {
					s := e.stats
					stats = append(stats, &s)
				}
				doc = statsResponse{ident, "io.nats.micro.v1.stats_response", started, stats}
			}
			mu.Unlock()
			data, _ := json.Marshal(doc)
			m.Respond(data)
		}
	}
	for _, verb := range []string{"PING", "INFO", "STATS"} {
		for _, subj := range []string{"$SRV." + verb, "$SRV." + verb + "." + name, "$SRV." + verb + "." + name + "." + id} {
			if _, err := nc.Subscribe(subj, answer(verb)); err != nil {
				fail("subscribe %s: %v", subj, err)
			}
		}
	}
	if err := nc.Flush(); err != nil {
		fail("flush: %v", err)
	}
	fmt.Println("ready")
	select {}
}

// gather sends one request and collects up to max replies, stopping 300 ms after the last one
// (or after 5 s without any): the scatter-gather every discovery uses.
func gather(nc *nats.Conn, subject string, max int) []*nats.Msg {
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		fail("subscribe: %v", err)
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest(subject, inbox, nil); err != nil {
		fail("publish: %v", err)
	}
	var out []*nats.Msg
	wait := 5 * time.Second
	for len(out) < max {
		m, err := sub.NextMsg(wait)
		if err != nil {
			break
		}
		out = append(out, m)
		wait = 300 * time.Millisecond
	}
	return out
}

// strict decodes a v1 document, refusing keys v1 does not have and values of the wrong type.
func strict(data []byte, v interface{}) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		fail("decode %s: %v", data, err)
	}
}

type callResult struct {
	Data  string `json:"data"`
	Error string `json:"error"`
	Code  string `json:"code"`
}

// runServiceClient discovers COUNT instances of NAME (PING, INFO, STATS decoded strictly), calls
// every endpoint the first one lists, and prints one JSON document of what it saw.
func runServiceClient(nc *nats.Conn, name string, count int) {
	var pings []pingResponse
	for _, m := range gather(nc, "$SRV.PING."+name, count) {
		var p pingResponse
		strict(m.Data, &p)
		pings = append(pings, p)
	}
	if len(pings) != count {
		fail("expected %d instances of %s, %d answered", count, name, len(pings))
	}
	id := pings[0].ID
	one := func(verb string) []byte {
		m, err := nc.Request("$SRV."+verb+"."+name+"."+id, nil, 5*time.Second)
		if err != nil {
			fail("%s: %v", verb, err)
		}
		return m.Data
	}
	var info infoResponse
	strict(one("INFO"), &info)
	calls := map[string]callResult{}
	for _, e := range info.Endpoints {
		subject := strings.Replace(e.Subject, "*", "x", -1)
		m, err := nc.Request(subject, []byte("[1, 2]"), 5*time.Second)
		if err != nil {
			fail("request %s: %v", subject, err)
		}
		calls[e.Name] = callResult{string(m.Data), m.Header.Get("Nats-Service-Error"), m.Header.Get("Nats-Service-Error-Code")}
	}
	// the counters move when a handler returns, just after its answer, and the queue group spread
	// the calls over the instances: ask them all until the calls show
	var stats []statsResponse
	deadline := time.Now().Add(5 * time.Second)
	for {
		stats = nil
		total := 0
		for _, m := range gather(nc, "$SRV.STATS."+name, count) {
			var s statsResponse
			strict(m.Data, &s)
			stats = append(stats, s)
			for _, e := range s.Endpoints {
				total += e.NumRequests
			}
		}
		if total >= len(info.Endpoints) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	started := []int64{}
	for _, s := range stats {
		started = append(started, s.Started.UnixMilli())
	}
	out, _ := json.Marshal(map[string]interface{}{
		"pings": pings, "info": info, "stats": stats, "calls": calls, "started_unix_ms": started,
	})
	fmt.Println(string(out))
}
