package hostile

import (
	"bytes"
	"net"
	"net/http"
	"strconv"
	"time"
)

// trickleGap is how slowly the trickling receivers send: one byte per gap.
const trickleGap = 200 * time.Millisecond

// gigantic is the body size the gigantic receiver advertises and streams.
const gigantic = 50 << 20

// statusLine returns "HTTP/1.1 <code> <text>\r\n".
func statusLine(code int) string {
	return "HTTP/1.1 " + strconv.Itoa(code) + " " + http.StatusText(code) + "\r\n"
}

// silent accepts the connection and never reads or writes on it.
func silent() behaviour { return behaviour{silent: true} }

// slowHeaders sends a complete, short response one byte per trickleGap:
// the status line and headers alone take seconds.
func slowHeaders() behaviour {
	resp := []byte(statusLine(200) + "Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
	return behaviour{respond: func(c *rawConn) { c.trickle(resp, trickleGap) }}
}

// slowBody sends the status line and headers at once, then a 64-byte body
// one byte per trickleGap.
func slowBody(code int) behaviour {
	head := []byte(statusLine(code) + "Content-Type: text/plain\r\nContent-Length: 64\r\n\r\n")
	body := bytes.Repeat([]byte("s"), 64)
	return behaviour{respond: func(c *rawConn) {
		if c.write(head) {
			c.trickle(body, trickleGap)
		}
	}}
}

// endlessBody sends a chunked body that never ends, as fast as the
// deliverer takes it.
func endlessBody(code int) behaviour {
	head := []byte(statusLine(code) + "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
	data := bytes.Repeat([]byte("e"), 32<<10)
	chunk := append([]byte(strconv.FormatInt(int64(len(data)), 16)+"\r\n"), data...)
	chunk = append(chunk, "\r\n"...)
	return behaviour{respond: func(c *rawConn) {
		if c.write(head) {
			c.pour(chunk, 0)
		}
	}}
}

// giganticBody advertises a Content-Length of 50 MiB and streams it.
func giganticBody(code int) behaviour {
	head := []byte(statusLine(code) + "Content-Type: text/plain\r\nContent-Length: " + strconv.Itoa(gigantic) + "\r\n\r\n")
	chunk := bytes.Repeat([]byte("g"), 32<<10)
	return behaviour{respond: func(c *rawConn) {
		if c.write(head) {
			c.pour(chunk, int64(len(head))+gigantic)
		}
	}}
}

// resetMidResponse writes part of the headers, then resets the connection
// (SO_LINGER 0 makes Close send a RST instead of a FIN).
func resetMidResponse() behaviour {
	part := []byte(statusLine(200) + "Content-Ty")
	return behaviour{respond: func(c *rawConn) {
		if !c.write(part) {
			return
		}
		if tc, ok := c.Conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		c.Close()
	}}
}

// endlessHeaders sends a status line and then header lines without end, as
// fast as the deliverer takes them.
func endlessHeaders() behaviour {
	head := []byte(statusLine(200))
	line := []byte("X-Filler: " + string(bytes.Repeat([]byte("h"), 1000)) + "\r\n")
	lines := bytes.Repeat(line, 32)
	return behaviour{respond: func(c *rawConn) {
		if c.write(head) {
			c.pour(lines, 0)
		}
	}}
}
