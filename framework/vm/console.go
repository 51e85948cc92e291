package vm

import (
	"bytes"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// tailLines is how much console an error quotes.
const tailLines = 15

var (
	// cloud-init's final message, e.g. "Cloud-init v. 22.4.2 finished at Mon,
	// 24 Nov 2026 15:40:01 +0000. Datasource DataSourceConfigDrive
	// [net,ver=2][source=/dev/sr0].  Up 58.12 seconds".
	finishedRE = regexp.MustCompile(`Cloud-init v\. (\S+) finished at .*\. Datasource (.*?)\.\s+Up ([0-9.]+) seconds`)
	ansiRE     = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)
)

// Finished is what cloud-init's final console line says.
type Finished struct {
	Version    string
	Datasource string
	// Uptime is the guest's own "Up N seconds".
	Uptime time.Duration
}

// console follows a serial log as it grows.
type console struct {
	path     string
	off      int64
	partial  []byte
	tail     []string
	output   bool // the guest wrote anything
	finished *Finished
	// stages are the boot stages reached, in order, with when they were seen.
	stages []StageTime
	// fault is the first line that shows the guest failed.
	fault *Fault
	// gate says the image's gate waits for the drive: a snapshot is saved here.
	gate bool
	// gatePath is the boot the gate says it opened for: "cold" or "restored".
	gatePath string
	// now dates the lines of the current read, for stages.
	now time.Time
}

// readAt consumes what was appended since the last call, dating new lines at now.
func (c *console) readAt(now time.Time) error {
	c.now = now
	return c.read()
}

// read consumes what was appended since the last call.
func (c *console) read() error {
	f, err := os.Open(c.path)
	if os.IsNotExist(err) {
		return nil // virtlogd creates it when the domain starts
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(c.off, io.SeekStart); err != nil {
		return err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	c.off += int64(len(b))
	if len(b) > 0 {
		c.output = true
	}
	c.partial = append(c.partial, b...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		c.line(string(c.partial[:i]))
		c.partial = c.partial[i+1:]
	}
	return nil
}

func (c *console) line(raw string) {
	l := strings.TrimRight(ansiRE.ReplaceAllString(raw, ""), "\r \t")
	if strings.TrimSpace(l) == "" {
		return
	}
	c.tail = append(c.tail, l)
	if len(c.tail) > tailLines {
		c.tail = c.tail[len(c.tail)-tailLines:]
	}
	if st, ok := stageOf(l, c.stage()); ok {
		c.stages = append(c.stages, StageTime{Stage: st, Seen: c.now})
	}
	if c.fault == nil {
		c.fault = faultOf(l)
	}
	if c.finished == nil {
		c.finished = parseFinished(l)
	}
	c.gate = c.gate || gateWaitingRE.MatchString(l)
	if m := GateOpenRE.FindStringSubmatch(l); m != nil && c.gatePath == "" {
		c.gatePath = m[1]
	}
}

func parseFinished(line string) *Finished {
	m := finishedRE.FindStringSubmatch(line)
	if m == nil {
		return nil
	}
	secs, err := strconv.ParseFloat(m[3], 64)
	if err != nil {
		return nil
	}
	return &Finished{Version: m[1], Datasource: m[2], Uptime: time.Duration(secs * float64(time.Second))}
}

// Tail quotes the last lines, indented, for error messages.
func (c *console) Tail() string {
	lines := c.tail
	if len(c.partial) > 0 {
		lines = append(lines[:len(lines):len(lines)], strings.TrimSpace(ansiRE.ReplaceAllString(string(c.partial), "")))
	}
	if len(lines) == 0 {
		return "    (console is empty)"
	}
	return "    | " + strings.Join(lines, "\n    | ")
}

// lastLine is the newest console line, complete or not.
func (c *console) lastLine() string {
	if p := strings.TrimSpace(ansiRE.ReplaceAllString(string(c.partial), "")); p != "" {
		return p
	}
	if len(c.tail) == 0 {
		return ""
	}
	return c.tail[len(c.tail)-1]
}
