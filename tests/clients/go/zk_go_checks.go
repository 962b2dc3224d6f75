// go-zookeeper (github.com/samuel/go-zookeeper/zk, Debian's golang-github-samuel-go-zookeeper-dev),
// unmodified, against the server: one "CHECK name PASS|FAIL reason" line per feature.
//
// Usage: zk_go_checks hosts proxyHosts proxyControlPort basePath superUser:password
//
// Built in GOPATH mode (GO111MODULE=off) against /usr/share/gocode: nothing is downloaded.
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/samuel/go-zookeeper/zk"
)

const wait = 15 * time.Second

var (
	hosts, proxyHosts, controlPort, base, superAuth string
	failures                                        int
	open                                            = zk.WorldACL(zk.PermAll)
)

type failure struct{ msg string }

func fail(format string, args ...interface{}) { panic(failure{fmt.Sprintf(format, args...)}) }

func check(name string, body func()) {
	verdict := "PASS"
	func() {
		defer func() {
			if r := recover(); r != nil {
				failures++
				if f, ok := r.(failure); ok {
					verdict = "FAIL " + f.msg
				} else {
					verdict = fmt.Sprintf("FAIL panic: %v", r)
				}
			}
		}()
		body()
	}()
	fmt.Println("CHECK " + name + " " + strings.ReplaceAll(verdict, "\n", " "))
}

func must(err error, what string) {
	if err != nil {
		fail("%s: %v", what, err)
	}
}

func wantErr(err, want error, what string) {
	if err != want {
		fail("%s: expected error %v, got %v", what, want, err)
	}
}

func eq(want, got interface{}, what string) {
	if !reflect.DeepEqual(want, got) {
		fail("%s: expected <%v> got <%v>", what, want, got)
	}
}

// ---- a session with its whole event stream ------------------------------------------------

type session struct {
	name   string
	conn   *zk.Conn
	mu     sync.Mutex
	cond   *sync.Cond
	events []zk.Event // everything on the connection's event channel, in order
	used   int        // node events consumed by nextNodeEvent
	states []zk.State
}

func connect(server string, timeout time.Duration, name string) *session {
	c, ch, err := zk.Connect([]string{server}, timeout)
	must(err, "connect "+name)
	s := &session{name: name, conn: c}
	s.cond = sync.NewCond(&s.mu)
	go func() {
		for ev := range ch {
			s.mu.Lock()
			if ev.Type == zk.EventSession {
				s.states = append(s.states, ev.State)
			} else {
				s.events = append(s.events, ev)
			}
			s.cond.Broadcast()
			s.mu.Unlock()
		}
	}()
	s.awaitState(zk.StateHasSession)
	return s
}

// waitFor blocks (bounded) until cond() holds, with s.mu held while it is evaluated.
func (s *session) waitFor(cond func() bool, what string) {
	deadline := time.Now().Add(wait)
	timer := time.AfterFunc(wait, func() { s.mu.Lock(); s.cond.Broadcast(); s.mu.Unlock() })
	defer timer.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for !cond() {
		if time.Now().After(deadline) {
			fail("%s: %s not seen within %s", s.name, what, wait)
		}
		s.cond.Wait()
	}
}

// awaitState consumes states up to and including `st`.
func (s *session) awaitState(st zk.State) {
	s.waitFor(func() bool {
		for i, x := range s.states {
			if x == st {
				s.states = s.states[i+1:]
				return true
			}
		}
		return false
	}, "state "+st.String())
}

// nextNodeEvent is the next watch notification this session received off the wire.
func (s *session) nextNodeEvent() zk.Event {
	var ev zk.Event
	s.waitFor(func() bool {
		if s.used < len(s.events) {
			ev = s.events[s.used]
			s.used++
			return true
		}
		return false
	}, "a watch notification")
	return ev
}

// forget marks every notification received so far as seen.
func (s *session) forget() {
	s.mu.Lock()
	s.used = len(s.events)
	s.mu.Unlock()
}

// quiet proves no other notification is pending: watch a fresh sentinel and create it; a
// session's notifications arrive in transaction order, so the sentinel's must come next.
func (s *session) quiet() {
	sentinel := fmt.Sprintf("%s/sentinel-%d", base, time.Now().UnixNano())
	_, _, ch, err := s.conn.ExistsW(sentinel)
	must(err, "exists sentinel")
	_, err = s.conn.Create(sentinel, nil, 0, open)
	must(err, "create sentinel")
	ev := s.nextNodeEvent()
	if ev.Type != zk.EventNodeCreated || ev.Path != sentinel {
		fail("%s: unexpected notification %v %s before the sentinel's", s.name, ev.Type, ev.Path)
	}
	<-ch
	must(s.conn.Delete(sentinel, -1), "delete sentinel")
}

func expectEvent(ch <-chan zk.Event, typ zk.EventType, path, what string) {
	select {
	case ev, ok := <-ch:
		if !ok {
			fail("%s: watcher channel closed without an event", what)
		}
		if ev.Type != typ || ev.Path != path {
			fail("%s: expected %v %s, got %v %s (err %v)", what, typ, path, ev.Type, ev.Path, ev.Err)
		}
	case <-time.After(wait):
		fail("%s: no %v %s within %s", what, typ, path, wait)
	}
}

func proxy(cmd string) string {
	c, err := net.Dial("tcp", "127.0.0.1:"+controlPort)
	must(err, "proxy control")
	defer c.Close()
	fmt.Fprintf(c, "%s\n", cmd)
	line, err := bufio.NewReader(c).ReadString('\n')
	must(err, "proxy answer")
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "ok") {
		fail("proxy answered %q to %s", line, cmd)
	}
	return line
}

func holdAndCut() {
	proxy("hold")
	if proxy("cut") == "ok 0" {
		fail("the proxy had no connection to cut")
	}
}

func sortedCopy(xs []string) []string {
	out := append([]string(nil), xs...)
	sort.Strings(out)
	return out
}

func main() {
	if len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: zk_go_checks hosts proxyHosts proxyControlPort basePath superUser:password")
		os.Exit(2)
	}
	hosts, proxyHosts, base, superAuth = os.Args[1], os.Args[2], os.Args[4], os.Args[5]
	controlPort = os.Args[3]

	var main, other *session
	check("connect_session", func() {
		main = connect(hosts, 10*time.Second, "main")
		other = connect(hosts, 10*time.Second, "other")
		if main.conn.SessionID() == 0 || main.conn.SessionID() == other.conn.SessionID() {
			fail("session ids %x %x", main.conn.SessionID(), other.conn.SessionID())
		}
		eq(zk.StateHasSession, main.conn.State(), "state")
		parent := ""
		for _, part := range strings.Split(strings.Trim(base, "/"), "/") {
			parent += "/" + part
			if _, err := main.conn.Create(parent, nil, 0, open); err != nil && err != zk.ErrNodeExists {
				fail("create %s: %v", parent, err)
			}
		}
	})
	if main == nil || other == nil {
		os.Exit(1)
	}
	zc, oc := main.conn, other.conn

	check("crud_and_stat", func() {
		p := base + "/crud"
		got, err := zc.Create(p, []byte("v0"), 0, open)
		must(err, "create")
		eq(p, got, "created path")
		data, st, err := zc.Get(p)
		must(err, "get")
		eq("v0", string(data), "data")
		eq(int32(0), st.Version, "version")
		eq(int32(2), st.DataLength, "dataLength")
		eq(st.Czxid, st.Mzxid, "mzxid of a new node")
		eq(st.Czxid, st.Pzxid, "pzxid of a new node")
		st2, err := zc.Set(p, []byte("v1"), 0)
		must(err, "set")
		eq(int32(1), st2.Version, "version after set")
		if st2.Mzxid <= st.Mzxid {
			fail("mzxid did not grow")
		}
		_, err = zc.Set(p, []byte("x"), 0)
		wantErr(err, zk.ErrBadVersion, "set with a stale version")
		ok, st3, err := zc.Exists(p)
		must(err, "exists")
		eq(true, ok, "exists")
		eq(*st2, *st3, "exists stat == set stat")
		kids, _, err := zc.Children(base)
		must(err, "children")
		found := false
		for _, k := range kids {
			found = found || k == "crud"
		}
		eq(true, found, "child listed")
		wantErr(zc.Delete(p, 5), zk.ErrBadVersion, "delete with a wrong version")
		must(zc.Delete(p, 1), "delete")
		ok, _, err = zc.Exists(p)
		must(err, "exists after delete")
		eq(false, ok, "exists after delete")
		_, _, err = zc.Get(p)
		wantErr(err, zk.ErrNoNode, "get after delete")
	})

	check("create_errors", func() {
		p := base + "/errs"
		_, err := zc.Create(p, nil, 0, open)
		must(err, "create")
		_, err = zc.Create(p, nil, 0, open)
		wantErr(err, zk.ErrNodeExists, "create twice")
		_, err = zc.Create(p+"/missing/child", nil, 0, open)
		wantErr(err, zk.ErrNoNode, "create under a missing parent")
		_, err = zc.Create(p+"/eph", nil, zk.FlagEphemeral, open)
		must(err, "create ephemeral")
		wantErr(zc.Delete(p, -1), zk.ErrNotEmpty, "delete a parent")
		_, err = zc.Create(p+"/eph/kid", nil, 0, open)
		wantErr(err, zk.ErrNoChildrenForEphemerals, "child of an ephemeral")
	})

	check("sequential_and_ephemeral", func() {
		p := base + "/seq"
		_, err := zc.Create(p, nil, 0, open)
		must(err, "create")
		for i := 0; i < 3; i++ {
			got, err := zc.Create(p+"/s-", nil, zk.FlagSequence, open)
			must(err, "create sequential")
			eq(fmt.Sprintf("%s/s-%010d", p, i), got, "sequential name")
		}
		owner := connect(hosts, 10*time.Second, "owner")
		e, err := owner.conn.Create(p+"/e-", []byte("x"), zk.FlagEphemeral|zk.FlagSequence, open)
		must(err, "create ephemeral sequential")
		eq(fmt.Sprintf("%s/e-%010d", p, 3), e, "ephemeral sequential name")
		_, st, _ := zc.Exists(e)
		eq(owner.conn.SessionID(), st.EphemeralOwner, "ephemeralOwner")
		prot, err := owner.conn.CreateProtectedEphemeralSequential(p+"/lock-", nil, open)
		must(err, "protected ephemeral sequential")
		if !strings.HasPrefix(prot, p+"/_c_") || !strings.HasSuffix(prot, "-lock-0000000004") {
			fail("protected name %s", prot)
		}
		_, _, ch, err := zc.ExistsW(e)
		must(err, "existsW")
		owner.conn.Close()
		expectEvent(ch, zk.EventNodeDeleted, e, "ephemeral gone with its session")
		kids, _, err := zc.Children(p)
		must(err, "children")
		eq([]string{"s-0000000000", "s-0000000001", "s-0000000002"}, sortedCopy(kids), "children after close")
	})

	check("watches", func() {
		p := base + "/watch"
		q := p + "/new"
		main.forget() // earlier checks' notifications (all already delivered to their watchers)
		_, err := zc.Create(p, []byte("0"), 0, open)
		must(err, "create")
		_, _, dataCh, err := zc.GetW(p)
		must(err, "getW")
		ok, _, existCh, err := zc.ExistsW(q)
		must(err, "existsW")
		eq(false, ok, "exists")
		_, err = oc.Set(p, []byte("1"), -1)
		must(err, "set")
		expectEvent(dataCh, zk.EventNodeDataChanged, p, "data watch")
		_, err = oc.Set(p, []byte("2"), -1) // one-shot: the server must not notify again
		must(err, "set again")
		// set only now: go-zookeeper hands a NodeDataChanged to the path's child watchers too
		_, _, childCh, err := zc.ChildrenW(p)
		must(err, "childrenW")
		_, err = oc.Create(q, nil, 0, open)
		must(err, "create child")
		expectEvent(existCh, zk.EventNodeCreated, q, "exist watch")
		expectEvent(childCh, zk.EventNodeChildrenChanged, p, "child watch")
		_, _, delCh, err := zc.GetW(q)
		must(err, "getW child")
		must(oc.Delete(q, -1), "delete child")
		expectEvent(delCh, zk.EventNodeDeleted, q, "data watch on a deleted node")
		// every notification off the wire, in order: exactly these, then the sentinel's
		var got []string
		for i := 0; i < 4; i++ {
			ev := main.nextNodeEvent()
			got = append(got, fmt.Sprintf("%v %s", ev.Type, ev.Path))
		}
		eq([]string{"EventNodeDataChanged " + p, "EventNodeCreated " + q, "EventNodeChildrenChanged " + p,
			"EventNodeDeleted " + q}, got, "notifications on the wire")
		main.quiet()
	})

	check("watches_survive_reconnect", func() {
		p := base + "/reconnect"
		_, err := zc.Create(p, nil, 0, open)
		must(err, "create")
		for _, n := range []string{"d", "c", "g", "u"} {
			_, err := zc.Create(p+"/"+n, []byte("0"), 0, open)
			must(err, "create "+n)
		}
		pz := connect(proxyHosts, 10*time.Second, "proxied")
		defer pz.conn.Close()
		session := pz.conn.SessionID()
		_, _, dCh, err := pz.conn.GetW(p + "/d")
		must(err, "getW d")
		_, _, mCh, err := pz.conn.ExistsW(p + "/m")
		must(err, "existsW m")
		_, _, cCh, err := pz.conn.ChildrenW(p + "/c")
		must(err, "childrenW c")
		_, _, gCh, err := pz.conn.GetW(p + "/g")
		must(err, "getW g")
		_, _, uCh, err := pz.conn.GetW(p + "/u")
		must(err, "getW u")
		holdAndCut()
		pz.awaitState(zk.StateDisconnected)
		_, err = zc.Set(p+"/d", []byte("1"), -1)
		must(err, "set d")
		_, err = zc.Create(p+"/m", nil, 0, open)
		must(err, "create m")
		_, err = zc.Create(p+"/c/kid", nil, 0, open)
		must(err, "create c/kid")
		must(zc.Delete(p+"/g", -1), "delete g")
		proxy("release")
		pz.awaitState(zk.StateHasSession)
		eq(session, pz.conn.SessionID(), "session id after reconnect")
		expectEvent(dCh, zk.EventNodeDataChanged, p+"/d", "missed data change")
		expectEvent(mCh, zk.EventNodeCreated, p+"/m", "missed creation")
		expectEvent(cCh, zk.EventNodeChildrenChanged, p+"/c", "missed child")
		expectEvent(gCh, zk.EventNodeDeleted, p+"/g", "missed deletion")
		got := map[string]bool{}
		for i := 0; i < 4; i++ {
			ev := pz.nextNodeEvent()
			got[fmt.Sprintf("%v %s", ev.Type, ev.Path)] = true
		}
		eq(4, len(got), "distinct notifications after the reconnect")
		pz.quiet()
		_, err = zc.Set(p+"/u", []byte("1"), -1)
		must(err, "set u")
		expectEvent(uCh, zk.EventNodeDataChanged, p+"/u", "re-registered watch")
	})

	check("multi", func() {
		p := base + "/multi"
		_, err := zc.Create(p, nil, 0, open)
		must(err, "create")
		res, err := zc.Multi(
			&zk.CreateRequest{Path: p + "/a", Data: []byte("a"), Acl: open},
			&zk.CreateRequest{Path: p + "/b", Acl: open},
			&zk.SetDataRequest{Path: p + "/a", Data: []byte("a1"), Version: 0},
			&zk.CheckVersionRequest{Path: p + "/b", Version: 0},
			&zk.DeleteRequest{Path: p + "/b", Version: 0},
			&zk.CreateRequest{Path: p + "/s-", Acl: open, Flags: zk.FlagSequence},
		)
		must(err, "multi")
		eq(6, len(res), "results")
		for i, r := range res {
			if r.Error != nil {
				fail("result %d: %v", i, r.Error)
			}
		}
		eq(p+"/a", res[0].String, "create result")
		eq(int32(1), res[2].Stat.Version, "setData result")
		eq(p+"/s-0000000002", res[5].String, "sequential in multi (creations, not deletions, count)")
		ok, _, _ := zc.Exists(p + "/b")
		eq(false, ok, "b deleted")
		res, err = zc.Multi(
			&zk.CreateRequest{Path: p + "/c", Acl: open},
			&zk.CheckVersionRequest{Path: p + "/a", Version: 99},
			&zk.SetDataRequest{Path: p + "/a", Data: []byte("never"), Version: -1},
		)
		wantErr(err, zk.ErrBadVersion, "failing multi")
		eq(3, len(res), "failing multi's results")
		eq(nil, res[0].Error, "ops before the failure")
		eq(zk.ErrBadVersion, res[1].Error, "the failing op")
		// go-zookeeper has no name for RUNTIMEINCONSISTENCY (-2): it maps it to ErrUnknown
		eq(zk.ErrUnknown, res[2].Error, "the op after the failure")
		ok, _, _ = zc.Exists(p + "/c")
		eq(false, ok, "nothing of a failed multi is applied")
		data, _, err := zc.Get(p + "/a")
		must(err, "get a")
		eq("a1", string(data), "data untouched by a failed multi")
	})

	check("acl_digest_and_auth", func() {
		p := base + "/acl"
		mine := p + "/mine"
		_, err := zc.Create(p, nil, 0, open)
		must(err, "create")
		_, err = zc.Create(mine, nil, 0, zk.AuthACL(zk.PermAll))
		wantErr(err, zk.ErrInvalidACL, "auth ACL without auth")
		alice := connect(hosts, 10*time.Second, "alice")
		defer alice.conn.Close()
		must(alice.conn.AddAuth("digest", []byte("alice:secret")), "addAuth")
		_, err = alice.conn.Create(mine, []byte("private"), 0, zk.AuthACL(zk.PermAll))
		must(err, "create with auth ACL")
		acl, st, err := alice.conn.GetACL(mine)
		must(err, "getACL")
		eq(zk.DigestACL(zk.PermAll, "alice", "secret"), acl, "stored ACL")
		eq(int32(0), st.Aversion, "aversion")
		_, _, err = zc.Get(mine)
		wantErr(err, zk.ErrNoAuth, "read without auth")
		_, _, err = zc.GetACL(mine)
		wantErr(err, zk.ErrNoAuth, "getACL without READ or ADMIN")
		_, err = alice.conn.SetACL(mine, zk.WorldACL(zk.PermRead), 3)
		wantErr(err, zk.ErrBadVersion, "setACL with a stale aversion")
		st, err = alice.conn.SetACL(mine, append(zk.WorldACL(zk.PermRead), zk.DigestACL(zk.PermAll, "alice", "secret")...), 0)
		must(err, "setACL")
		eq(int32(1), st.Aversion, "aversion after setACL")
		data, _, err := oc.Get(mine)
		must(err, "world-readable")
		eq("private", string(data), "data")
		_, err = oc.Set(mine, []byte("x"), -1)
		wantErr(err, zk.ErrNoAuth, "write without WRITE")
		root := connect(hosts, 10*time.Second, "super")
		defer root.conn.Close()
		must(root.conn.AddAuth("digest", []byte(superAuth)), "super addAuth")
		_, err = alice.conn.SetACL(mine, zk.DigestACL(zk.PermAll, "alice", "secret"), -1)
		must(err, "setACL digest only")
		_, err = root.conn.Set(mine, []byte("by super"), -1)
		must(err, "super writes anything")
		// ip ACLs
		_, err = zc.Create(p+"/lo", nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "ip", ID: "127.0.0.1"}})
		must(err, "create ip ACL")
		_, _, err = oc.Get(p + "/lo")
		must(err, "ip ACL matches 127.0.0.1")
		_, err = zc.Create(p+"/far", nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "ip", ID: "10.1.2.3"}})
		must(err, "create far ip ACL")
		_, _, err = oc.Get(p + "/far")
		wantErr(err, zk.ErrNoAuth, "ip ACL of another address")
	})

	check("lock", func() {
		p := base + "/lock"
		c2 := connect(hosts, 10*time.Second, "locker2")
		defer c2.conn.Close()
		l1 := zk.NewLock(zc, p, open)
		l2 := zk.NewLock(c2.conn, p, open)
		must(l1.Lock(), "l1 lock")
		got := make(chan error, 1)
		go func() { got <- l2.Lock() }()
		for { // wait (through child watches) for l2's node to queue behind l1's
			kids, _, ch, err := zc.ChildrenW(p)
			must(err, "childrenW")
			if len(kids) == 2 {
				break
			}
			select {
			case <-ch:
			case <-time.After(wait):
				fail("the second locker never queued: %v", kids)
			}
		}
		select {
		case err := <-got:
			fail("l2 got the lock while l1 holds it (%v)", err)
		default:
		}
		must(l1.Unlock(), "l1 unlock")
		select {
		case err := <-got:
			must(err, "l2 lock")
		case <-time.After(wait):
			fail("l2 never got the lock")
		}
		must(l2.Unlock(), "l2 unlock")
		kids, _, err := zc.Children(p)
		must(err, "children")
		eq(0, len(kids), "lock nodes left")
	})

	check("sync", func() {
		got, err := zc.Sync(base)
		must(err, "sync")
		eq(base, got, "sync path")
	})

	check("session_expiry_by_timeout", func() {
		// a partition longer than the session timeout: the server expires the session itself
		p := base + "/expiry"
		doomed := connect(proxyHosts, 4*time.Second, "doomed")
		defer doomed.conn.Close()
		old := doomed.conn.SessionID()
		_, err := doomed.conn.Create(p, nil, zk.FlagEphemeral, open)
		must(err, "create ephemeral")
		_, _, ch, err := zc.ExistsW(p)
		must(err, "existsW")
		holdAndCut()
		doomed.awaitState(zk.StateDisconnected)
		expectEvent(ch, zk.EventNodeDeleted, p, "the expired session's ephemeral")
		proxy("release")
		doomed.awaitState(zk.StateExpired)
		doomed.awaitState(zk.StateHasSession) // go-zookeeper starts a new session by itself
		if doomed.conn.SessionID() == old {
			fail("still session %x after expiry", old)
		}
	})

	zc.Close()
	oc.Close()
	if failures > 0 {
		os.Exit(1)
	}
}
