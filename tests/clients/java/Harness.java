import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.Watcher.Event.EventType;
import org.apache.zookeeper.Watcher.Event.KeeperState;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;

/**
 * Shared plumbing of the Java client programs: the command line, the CHECK line protocol,
 * bounded waits (never sleeps), event queues, and the cuttable proxy's control channel.
 *
 * Arguments: hosts proxyHosts proxyControlPort basePath superUser:password
 */
final class Harness {
    static final long WAIT_MS = 15_000;

    final String hosts;
    final String proxyHosts;
    final int controlPort;
    final String base;
    final String superAuth;
    int failures = 0;

    Harness(String[] args) {
        if (args.length != 5) {
            throw new IllegalArgumentException("usage: hosts proxyHosts proxyControlPort basePath superUser:password");
        }
        hosts = args[0];
        proxyHosts = args[1];
        controlPort = Integer.parseInt(args[2]);
        base = args[3];
        superAuth = args[4];
    }

    interface Body {
        void run() throws Exception;
    }

    /** Run one check; print "CHECK name PASS" or "CHECK name FAIL reason". */
    void check(String name, Body body) {
        String verdict;
        try {
            body.run();
            verdict = "PASS";
        } catch (Throwable t) {
            failures++;
            String msg = t.getClass().getSimpleName() + ": " + t.getMessage();
            verdict = "FAIL " + msg.replace('\n', ' ').replace('\r', ' ');
            System.err.println("=== check " + name + " failed:");
            t.printStackTrace();
        }
        System.out.println("CHECK " + name + " " + verdict);
        System.out.flush();
    }

    void exit() {
        System.out.flush();
        System.err.flush();
        Runtime.getRuntime().halt(failures == 0 ? 0 : 1);
    }

    // ---- assertions --------------------------------------------------------------------

    static void expect(boolean cond, String fmt, Object... args) {
        if (!cond) {
            throw new AssertionError(String.format(fmt, args));
        }
    }

    static void eq(Object expected, Object actual, String what) {
        if (expected instanceof byte[] && actual instanceof byte[]) {
            if (!Arrays.equals((byte[]) expected, (byte[]) actual)) {
                throw new AssertionError(what + ": expected " + Arrays.toString((byte[]) expected) + " got "
                        + Arrays.toString((byte[]) actual));
            }
            return;
        }
        if (!Objects.equals(expected, actual)) {
            throw new AssertionError(what + ": expected <" + expected + "> got <" + actual + ">");
        }
    }

    interface Thrower {
        void run() throws Exception;
    }

    /** Expect `body` to throw an exception of class `cls`; return it. */
    static <T extends Throwable> T raises(Class<T> cls, String what, Thrower body) throws Exception {
        try {
            body.run();
        } catch (Throwable t) {
            if (cls.isInstance(t)) {
                return cls.cast(t);
            }
            throw new AssertionError(what + ": expected " + cls.getSimpleName() + " got " + t, t);
        }
        throw new AssertionError(what + ": expected " + cls.getSimpleName() + ", nothing was thrown");
    }

    static void await(CountDownLatch latch, String what) throws InterruptedException {
        expect(latch.await(WAIT_MS, TimeUnit.MILLISECONDS), "timed out after %d ms waiting for %s", WAIT_MS, what);
    }

    /** Poll a condition no callback announces (bounded; 10 ms between looks). */
    static void poll(BooleanSupplier cond, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(WAIT_MS);
        Object pause = new Object();
        while (!cond.getAsBoolean()) {
            expect(System.nanoTime() < deadline, "timed out after %d ms waiting for %s", WAIT_MS, what);
            synchronized (pause) {
                pause.wait(10);
            }
        }
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String s(byte[] b) {
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    static String uniq(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    // ---- events ------------------------------------------------------------------------

    /** A watcher that queues everything it is told; node events and state changes are kept apart. */
    static final class Events implements Watcher {
        final BlockingQueue<WatchedEvent> nodeEvents = new LinkedBlockingQueue<>();
        final BlockingQueue<KeeperState> states = new LinkedBlockingQueue<>();
        final String name;

        Events(String name) {
            this.name = name;
        }

        @Override
        public void process(WatchedEvent e) {
            if (e.getType() == EventType.None) {
                states.add(e.getState());
            } else {
                nodeEvents.add(e);
            }
        }

        WatchedEvent next(String what) throws InterruptedException {
            WatchedEvent e = nodeEvents.poll(WAIT_MS, TimeUnit.MILLISECONDS);
            expect(e != null, "%s: no event within %d ms (waiting for %s)", name, WAIT_MS, what);
            return e;
        }

        /** The next node event must be exactly (type, path). */
        void expectNext(EventType type, String path) throws InterruptedException {
            WatchedEvent e = next(type + " " + path);
            expect(e.getType() == type && path.equals(e.getPath()), "%s: expected %s %s, got %s %s", name, type,
                    path, e.getType(), e.getPath());
        }

        /** The next n node events, as "Type path" strings (order as received). */
        List<String> take(int n) throws InterruptedException {
            List<String> out = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                WatchedEvent e = next((n - i) + " more event(s), have " + out);
                out.add(e.getType() + " " + e.getPath());
            }
            return out;
        }

        void awaitState(KeeperState state) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(WAIT_MS);
            List<KeeperState> seen = new ArrayList<>();
            while (true) {
                long left = deadline - System.nanoTime();
                KeeperState st = states.poll(Math.max(left, 0), TimeUnit.NANOSECONDS);
                expect(st != null, "%s: state %s not reached within %d ms (saw %s)", name, state, WAIT_MS, seen);
                if (st == state) {
                    return;
                }
                seen.add(st);
            }
        }

        /**
         * Prove no other node event is pending for this session: watch a fresh sentinel, create it;
         * notifications reach a session in transaction order, so the sentinel's NodeCreated must come
         * next.
         */
        void expectQuiet(ZooKeeper zk, String dir) throws Exception {
            String sentinel = dir + "/" + uniq("sentinel");
            zk.exists(sentinel, this);
            zk.create(sentinel, null, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            WatchedEvent e = next("sentinel " + sentinel);
            expect(e.getType() == EventType.NodeCreated && sentinel.equals(e.getPath()),
                    "%s: unexpected event %s %s (before the sentinel's NodeCreated)", name, e.getType(), e.getPath());
            zk.delete(sentinel, -1);
        }
    }

    // ---- clients -----------------------------------------------------------------------

    final List<ZooKeeper> opened = new ArrayList<>();

    /** A connected ZooKeeper handle (waits for SyncConnected); closed at the end of the program. */
    ZooKeeper connect(String connectString, int timeoutMs, Events events) throws Exception {
        ZooKeeper zk = new ZooKeeper(connectString, timeoutMs, events);
        opened.add(zk);
        events.awaitState(KeeperState.SyncConnected);
        return zk;
    }

    ZooKeeper connect(Events events) throws Exception {
        return connect(hosts, 10_000, events);
    }

    // ---- proxy control -----------------------------------------------------------------

    /** Send one command to the cuttable proxy; return its answer line. */
    String proxy(String command) throws Exception {
        try (Socket s = new Socket("127.0.0.1", controlPort)) {
            OutputStream out = s.getOutputStream();
            out.write((command + "\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
            String answer = in.readLine();
            expect(answer != null && answer.startsWith("ok"), "proxy answered %s to %s", answer, command);
            return answer;
        }
    }

    /** Hold new connections and cut the live ones: clients behind the proxy are now disconnected. */
    int holdAndCut() throws Exception {
        proxy("hold");
        return Integer.parseInt(proxy("cut").substring(3).trim());
    }

    void release() throws Exception {
        proxy("release");
    }
}
