package rig

import (
	"encoding/json"
	"strconv"
	"time"
)

// MetricEvent appends to dst a slabot metric event (DESIGN §2.1, format 1)
// reporting a queue's longest wait in seconds.
func MetricEvent(dst []byte, id, queueID, queueName string, seconds float64) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, id)
	dst = append(dst, `,"version":1,"timestamp":"`...)
	dst = time.Now().UTC().AppendFormat(dst, time.RFC3339)
	dst = append(dst, `","event_type":"com.genesiscloud.queue.metric","source":"slabot/rig","data":{"queue_id":`...)
	dst = appendString(dst, queueID)
	dst = append(dst, `,"queue_name":`...)
	dst = appendString(dst, queueName)
	dst = append(dst, `,"metric":"longest_wait","value":`...)
	dst = strconv.AppendFloat(dst, seconds, 'f', -1, 64)
	dst = append(dst, `,"unit":"seconds"}}`...)
	return dst
}

// appendString appends s as a JSON string, cheaply when it needs no
// escaping (the harness's own IDs and names).
func appendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
