// A Go agent written like the Beluga integration guide, used by tests/test_go_interop.py to prove
// that Python and Go agents understand each other byte for byte.
//
//	go_agent publish URL SUBJECT TRACEPARENT   publish one Message with a traceparent header
//	go_agent subscribe URL SUBJECT COUNT       print each Message received (re-marshalled) and its traceparent
//	go_agent request URL SUBJECT               send a request Message, print the reply
//	go_agent reply URL SUBJECT COUNT           answer COUNT requests with a Message echoing the payload
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
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
	default:
		fail("unknown mode %q", mode)
	}
}
