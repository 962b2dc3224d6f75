package recipe

import (
	"bufio"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/samuel/go-zookeeper/zk"
)

// startZkcompat runs a throwaway zkcompat on a free loopback port; it stops when the test ends.
func startZkcompat(t *testing.T) string {
	cmd := exec.Command("zkcompat", "serve", "--in-memory", "--host", "127.0.0.1", "--port", "0", "--print-port")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	port, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return "127.0.0.1:" + strings.TrimSpace(port)
}

func TestWithZkcompat(t *testing.T) {
	conn, _, err := zk.Connect([]string{startZkcompat(t)}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Create("/hello", []byte("world"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	data, _, err := conn.Get("/hello")
	if err != nil || string(data) != "world" {
		t.Fatalf("got %q, %v", data, err)
	}
}
