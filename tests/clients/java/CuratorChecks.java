import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.api.transaction.CuratorTransactionResult;
import org.apache.curator.framework.api.transaction.OperationType;
import org.apache.curator.framework.recipes.atomic.AtomicValue;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicLong;
import org.apache.curator.framework.recipes.atomic.PromotedToLock;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.curator.framework.recipes.leader.LeaderSelector;
import org.apache.curator.framework.recipes.leader.LeaderSelectorListenerAdapter;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreV2;
import org.apache.curator.framework.recipes.locks.Lease;
import org.apache.curator.framework.recipes.nodes.PersistentNode;
import org.apache.curator.framework.recipes.shared.SharedCount;
import org.apache.curator.framework.recipes.shared.SharedCountListener;
import org.apache.curator.framework.recipes.shared.SharedCountReader;
import org.apache.curator.framework.recipes.shared.VersionedValue;
import org.apache.curator.framework.recipes.watch.PersistentWatcher;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.RetryNTimes;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher.Event.EventType;
import org.apache.zookeeper.Watcher.Event.KeeperState;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;

/**
 * Apache Curator (Debian's libcurator-*-java) against the server: framework API and the
 * recipes people run in production; one CHECK line per feature.
 */
public final class CuratorChecks {
    static final long WAIT = Harness.WAIT_MS;
    static final List<CuratorFramework> clients = new ArrayList<>();

    static CuratorFramework newClient(String hosts, int sessionMs) throws Exception {
        CuratorFramework c = CuratorFrameworkFactory.builder()
                .connectString(hosts)
                .sessionTimeoutMs(sessionMs)
                .connectionTimeoutMs(10_000)
                .retryPolicy(new RetryNTimes(200, 50))
                .build();
        clients.add(c);
        c.start();
        Harness.expect(c.blockUntilConnected((int) WAIT, TimeUnit.MILLISECONDS), "Curator did not connect to %s",
                hosts);
        return c;
    }

    static <T> T take(BlockingQueue<T> q, String what) throws InterruptedException {
        T item = q.poll(WAIT, TimeUnit.MILLISECONDS);
        Harness.expect(item != null, "nothing within %d ms (waiting for %s)", WAIT, what);
        return item;
    }

    /** Take from `q` until `want` comes; answer what came before it. */
    static <T> List<T> takeUntil(BlockingQueue<T> q, T want) throws InterruptedException {
        List<T> before = new ArrayList<>();
        while (true) {
            T item = q.poll(WAIT, TimeUnit.MILLISECONDS);
            Harness.expect(item != null, "%s not seen within %d ms (saw %s)", want, WAIT, before);
            if (item.equals(want)) {
                return before;
            }
            before.add(item);
        }
    }

    public static void main(String[] args) throws Exception {
        Harness h = new Harness(args);
        CuratorFramework c = newClient(h.hosts, 10_000);
        CuratorFramework c2 = newClient(h.hosts, 10_000);
        c.create().creatingParentsIfNeeded().forPath(h.base);

        h.check("framework_crud", () -> {
            String p = h.base + "/crud/a/b";
            c.create().creatingParentsIfNeeded().forPath(p, Harness.b("x"));
            Harness.eq("x", Harness.s(c.getData().forPath(p)), "data");
            Stat st = c.setData().withVersion(0).forPath(p, Harness.b("y"));
            Harness.eq(1, st.getVersion(), "version after setData");
            Harness.raises(KeeperException.BadVersionException.class, "stale version",
                    () -> c.setData().withVersion(0).forPath(p, Harness.b("z")));
            Stat created = new Stat();
            c.create().storingStatIn(created).forPath(h.base + "/crud/s", Harness.b("s"));
            Harness.eq(created, c.checkExists().forPath(h.base + "/crud/s"), "create2 stat");
            String prot = c.create().withProtection().withMode(CreateMode.EPHEMERAL_SEQUENTIAL)
                    .forPath(h.base + "/crud/lock-");
            String name = ZKPaths.getNodeFromPath(prot);
            Harness.expect(name.matches("_c_[0-9a-f-]{36}-lock-\\d{10}"), "protected name %s", name);
            CountDownLatch bg = new CountDownLatch(1);
            AtomicReference<String> bgData = new AtomicReference<>();
            c.getData().inBackground((cli, event) -> {
                bgData.set(Harness.s(event.getData()));
                bg.countDown();
            }).forPath(p);
            Harness.await(bg, "background getData");
            Harness.eq("y", bgData.get(), "background data");
            Harness.eq(new HashSet<>(Arrays.asList("a", "s", name)),
                    new HashSet<>(c.getChildren().forPath(h.base + "/crud")), "children");
            c.delete().guaranteed().deletingChildrenIfNeeded().forPath(h.base + "/crud");
            Harness.eq(null, c.checkExists().forPath(h.base + "/crud"), "deleted recursively");
        });

        h.check("namespace", () -> {
            CuratorFramework ns = c.usingNamespace(h.base.substring(1) + "/ns");
            ns.create().forPath("/x", Harness.b("1"));
            Harness.eq("1", Harness.s(c.getData().forPath(h.base + "/ns/x")), "namespaced node");
            Harness.eq(Arrays.asList("x"), ns.getChildren().forPath("/"), "children in the namespace");
            Harness.eq("/y", ns.create().forPath("/y"), "paths answered relative to the namespace");
        });

        h.check("transaction", () -> {
            String p = h.base + "/tx";
            c.create().forPath(p);
            List<CuratorTransactionResult> res = c.transaction().forOperations(
                    c.transactionOp().create().forPath(p + "/a", Harness.b("a")),
                    c.transactionOp().setData().forPath(p + "/a", Harness.b("b")),
                    c.transactionOp().check().withVersion(1).forPath(p + "/a"),
                    c.transactionOp().create().withMode(CreateMode.PERSISTENT_SEQUENTIAL).forPath(p + "/s-"));
            Harness.eq(4, res.size(), "results");
            Harness.eq(OperationType.CREATE, res.get(0).getType(), "first result type");
            Harness.eq(p + "/a", res.get(0).getResultPath(), "created path");
            Harness.eq(1, res.get(1).getResultStat().getVersion(), "setData stat");
            Harness.eq(p + "/s-0000000001", res.get(3).getResultPath(), "sequential in a transaction");
            Harness.raises(KeeperException.NodeExistsException.class, "failing transaction",
                    () -> c.transaction().forOperations(
                            c.transactionOp().create().forPath(p + "/new"),
                            c.transactionOp().create().forPath(p + "/a")));
            Harness.eq(null, c.checkExists().forPath(p + "/new"), "failed transaction left nothing");
        });

        h.check("inter_process_mutex", () -> {
            String p = h.base + "/mutex";
            InterProcessMutex m1 = new InterProcessMutex(c, p);
            InterProcessMutex m2 = new InterProcessMutex(c2, p);
            Harness.expect(m1.acquire(WAIT, TimeUnit.MILLISECONDS), "m1 could not lock a free mutex");
            Harness.expect(m1.acquire(WAIT, TimeUnit.MILLISECONDS), "m1 could not re-enter its mutex");
            CountDownLatch got = new CountDownLatch(1);
            CountDownLatch letGo = new CountDownLatch(1);
            AtomicReference<Throwable> err = new AtomicReference<>();
            Thread t = new Thread(() -> {
                try {
                    m2.acquire();
                    got.countDown();
                    letGo.await();
                    m2.release();
                } catch (Throwable e) {
                    err.set(e);
                    got.countDown();
                }
            });
            t.start();
            Harness.poll(() -> participants(m1) == 2, "m2 to queue behind m1");
            Harness.eq(1L, got.getCount(), "m2 still waiting while m1 holds the lock");
            m1.release();
            Harness.expect(m1.isAcquiredInThisProcess(), "a re-entered mutex is still held after one release");
            Harness.eq(1L, got.getCount(), "m2 still waiting after m1's first release");
            m1.release();
            Harness.await(got, "m2 to get the lock");
            Harness.eq(null, err.get(), "m2's error");
            Harness.expect(!m1.acquire(0, TimeUnit.MILLISECONDS), "m1 got a lock m2 holds");
            letGo.countDown();
            t.join(WAIT);
            Harness.poll(() -> participants(m1) == 0, "the lock nodes to go away");
        });

        h.check("inter_process_read_write_lock", () -> {
            String p = h.base + "/rwlock";
            InterProcessReadWriteLock rw1 = new InterProcessReadWriteLock(c, p);
            InterProcessReadWriteLock rw2 = new InterProcessReadWriteLock(c2, p);
            Harness.expect(rw1.readLock().acquire(WAIT, TimeUnit.MILLISECONDS), "first reader");
            Harness.expect(rw2.readLock().acquire(WAIT, TimeUnit.MILLISECONDS), "second reader shares the lock");
            InterProcessReadWriteLock rw3 = new InterProcessReadWriteLock(c2, p);
            CountDownLatch wrote = new CountDownLatch(1);
            Thread t = new Thread(() -> {
                try {
                    rw3.writeLock().acquire();
                    wrote.countDown();
                    rw3.writeLock().release();
                } catch (Exception e) {
                    e.printStackTrace();
                }
            });
            t.start();
            Harness.poll(() -> children(c, p) == 3, "the writer to queue behind the readers");
            Harness.eq(1L, wrote.getCount(), "writer waits while readers hold the lock");
            rw1.readLock().release();
            Harness.eq(1L, wrote.getCount(), "writer waits for the last reader");
            rw2.readLock().release();
            Harness.await(wrote, "the writer to get the lock");
            t.join(WAIT);
        });

        h.check("inter_process_semaphore", () -> {
            String p = h.base + "/sem";
            InterProcessSemaphoreV2 s1 = new InterProcessSemaphoreV2(c, p, 2);
            InterProcessSemaphoreV2 s2 = new InterProcessSemaphoreV2(c2, p, 2);
            List<Lease> mine = new ArrayList<>(s1.acquire(2, WAIT, TimeUnit.MILLISECONDS));
            Harness.eq(2, mine.size(), "two leases");
            AtomicReference<Lease> theirs = new AtomicReference<>();
            CountDownLatch got = new CountDownLatch(1);
            Thread t = new Thread(() -> {
                try {
                    theirs.set(s2.acquire(WAIT, TimeUnit.MILLISECONDS));
                } catch (Exception e) {
                    e.printStackTrace();
                }
                got.countDown();
            });
            t.start();
            Harness.poll(() -> {
                try {
                    return s1.getParticipantNodes().size() == 3;
                } catch (Exception e) {
                    return false;
                }
            }, "the third lease to queue");
            Harness.eq(1L, got.getCount(), "no third lease while two are out");
            s1.returnLease(mine.remove(0));
            Harness.await(got, "the third lease");
            Harness.expect(theirs.get() != null, "s2 timed out instead of getting the returned lease");
            s2.returnLease(theirs.get());
            s1.returnAll(mine);
        });

        h.check("leader_latch", () -> {
            String p = h.base + "/latch";
            LeaderLatch l1 = new LeaderLatch(c, p, "one");
            LeaderLatch l2 = new LeaderLatch(c2, p, "two");
            CountDownLatch l2Leads = new CountDownLatch(1);
            l2.addListener(new LeaderLatchListener() {
                @Override
                public void isLeader() {
                    l2Leads.countDown();
                }

                @Override
                public void notLeader() {
                }
            });
            l1.start();
            Harness.expect(l1.await(WAIT, TimeUnit.MILLISECONDS), "l1 not elected alone");
            l2.start();
            Harness.poll(() -> {
                try {
                    return l2.getParticipants().size() == 2;
                } catch (Exception e) {
                    return false;
                }
            }, "two participants");
            Harness.expect(!l2.hasLeadership(), "two leaders at once");
            Harness.eq("one", l2.getLeader().getId(), "leader seen by l2");
            l1.close();
            Harness.await(l2Leads, "l2 to take over");
            Harness.expect(l2.hasLeadership(), "l2 leads");
            Harness.eq("two", l2.getLeader().getId(), "leader after failover");
            l2.close();
        });

        h.check("leader_selector", () -> {
            String p = h.base + "/selector";
            AtomicInteger inside = new AtomicInteger();
            List<String> turns = Collections.synchronizedList(new ArrayList<>());
            List<String> problems = Collections.synchronizedList(new ArrayList<>());
            CountDownLatch enough = new CountDownLatch(6);
            LeaderSelector[] sel = new LeaderSelector[2];
            for (int i = 0; i < 2; i++) {
                final String id = "s" + i;
                sel[i] = new LeaderSelector(i == 0 ? c : c2, p, new LeaderSelectorListenerAdapter() {
                    @Override
                    public void takeLeadership(CuratorFramework client) throws Exception {
                        if (inside.incrementAndGet() != 1) {
                            problems.add("two leaders at once");
                        }
                        turns.add(id);
                        enough.countDown();
                        inside.decrementAndGet();
                    }
                });
                sel[i].setId(id);
                sel[i].autoRequeue();
            }
            sel[0].start();
            sel[1].start();
            Harness.await(enough, "six leadership turns");
            sel[0].close();
            sel[1].close();
            Harness.eq(Collections.emptyList(), problems, "problems");
            Harness.expect(turns.contains("s0") && turns.contains("s1"), "both selectors lead in turn: %s", turns);
        });

        h.check("distributed_atomic_long", () -> {
            String p = h.base + "/counter";
            PromotedToLock promoted = PromotedToLock.builder().lockPath(p + "-lock")
                    .retryPolicy(new RetryNTimes(50, 5)).timeout(WAIT, TimeUnit.MILLISECONDS).build();
            DistributedAtomicLong a1 = new DistributedAtomicLong(c, p, new RetryNTimes(10, 1), promoted);
            DistributedAtomicLong a2 = new DistributedAtomicLong(c2, p, new RetryNTimes(10, 1), promoted);
            List<Thread> threads = new ArrayList<>();
            List<String> failures = Collections.synchronizedList(new ArrayList<>());
            for (int i = 0; i < 4; i++) {
                DistributedAtomicLong a = i % 2 == 0 ? a1 : a2;
                Thread t = new Thread(() -> {
                    for (int k = 0; k < 25; k++) {
                        try {
                            AtomicValue<Long> v = a.increment();
                            if (!v.succeeded()) {
                                failures.add("increment did not succeed");
                            }
                        } catch (Exception e) {
                            failures.add(e.toString());
                        }
                    }
                });
                threads.add(t);
                t.start();
            }
            for (Thread t : threads) {
                t.join(60_000);
            }
            Harness.eq(Collections.emptyList(), failures, "increment failures");
            Harness.eq(100L, a1.get().postValue(), "counter after 100 increments");
            Harness.expect(a2.compareAndSet(100L, 200L).succeeded(), "compareAndSet(100, 200)");
            Harness.expect(!a1.compareAndSet(100L, 300L).succeeded(), "compareAndSet with a stale expectation");
            Harness.eq(200L, a1.get().postValue(), "counter after compareAndSet");
        });

        h.check("shared_count", () -> {
            String p = h.base + "/shared";
            SharedCount s1 = new SharedCount(c, p, 0);
            SharedCount s2 = new SharedCount(c2, p, 0);
            BlockingQueue<Integer> seen = new LinkedBlockingQueue<>();
            s2.addListener(new SharedCountListener() {
                @Override
                public void countHasChanged(SharedCountReader reader, int newCount) {
                    seen.add(newCount);
                }

                @Override
                public void stateChanged(CuratorFramework client, ConnectionState newState) {
                }
            });
            s1.start();
            s2.start();
            VersionedValue<Integer> v = s1.getVersionedValue();
            Harness.expect(s1.trySetCount(v, 5), "trySetCount with the current version");
            Harness.expect(!s1.trySetCount(v, 6), "trySetCount with a stale version");
            Harness.eq(5, take(seen, "the other client's countHasChanged"), "count seen by the other client");
            s2.setCount(7);
            Harness.poll(() -> s1.getCount() == 7, "s1 to see 7");
            s1.close();
            s2.close();
        });

        h.check("curator_cache", () -> {
            String p = h.base + "/cache";
            c.create().forPath(p, Harness.b("root"));
            c.create().forPath(p + "/pre", Harness.b("pre"));
            BlockingQueue<String> ev = new LinkedBlockingQueue<>();
            CuratorCache cache = CuratorCache.build(c, p);
            cache.listenable().addListener(listener(ev));
            cache.start();
            List<String> initial = takeUntil(ev, "initialized");
            Harness.eq(new HashSet<>(Arrays.asList("create " + p + " root", "create " + p + "/pre pre")),
                    new HashSet<>(initial), "initial events");
            c2.create().forPath(p + "/a", Harness.b("1"));
            Harness.eq("create " + p + "/a 1", take(ev, "create a"), "event");
            c2.create().forPath(p + "/a/b", Harness.b("2"));
            Harness.eq("create " + p + "/a/b 2", take(ev, "create a/b"), "event (a grandchild: recursive)");
            c2.setData().forPath(p + "/a/b", Harness.b("3"));
            Harness.eq("change " + p + "/a/b 3", take(ev, "change a/b"), "event");
            c2.delete().forPath(p + "/a/b");
            Harness.eq("delete " + p + "/a/b", take(ev, "delete a/b"), "event");
            Harness.eq("1", Harness.s(cache.get(p + "/a").map(ChildData::getData).orElse(null)), "cached data");
            Harness.eq(3, (int) cache.size(), "cache size");
            cache.close();
        });

        h.check("curator_cache_after_reconnect", () -> {
            String p = h.base + "/cache2";
            c.create().forPath(p, Harness.b("0"));
            c.create().forPath(p + "/pre", Harness.b("pre"));
            CuratorFramework pc = newClient(h.proxyHosts, 10_000);
            BlockingQueue<ConnectionState> states = new LinkedBlockingQueue<>();
            pc.getConnectionStateListenable().addListener((cli, st) -> states.add(st));
            BlockingQueue<String> ev = new LinkedBlockingQueue<>();
            CuratorCache cache = CuratorCache.build(pc, p);
            cache.listenable().addListener(listener(ev));
            cache.start();
            takeUntil(ev, "initialized");
            Harness.expect(h.holdAndCut() >= 1, "the proxy had no connection to cut");
            takeUntil(states, ConnectionState.SUSPENDED);
            c.create().forPath(p + "/x", Harness.b("x"));
            c.delete().forPath(p + "/pre");
            c.setData().forPath(p, Harness.b("1"));
            h.release();
            takeUntil(states, ConnectionState.RECONNECTED);
            Set<String> want = new HashSet<>(Arrays.asList("create " + p + "/x x", "delete " + p + "/pre",
                    "change " + p + " 1"));
            Set<String> got = new HashSet<>();
            while (!got.containsAll(want)) {
                got.add(take(ev, "the cache to catch up; have " + got));
            }
            Harness.eq(want, got, "cache events after reconnect");
            Harness.eq(2, (int) cache.size(), "cache size");
            c.create().forPath(p + "/after", Harness.b("a"));
            Harness.eq("create " + p + "/after a", take(ev, "create after reconnect"), "event");
            cache.close();
        });

        h.check("persistent_watcher", () -> {
            String p = h.base + "/pwatch";
            c.create().forPath(p);
            BlockingQueue<String> ev = new LinkedBlockingQueue<>();
            PersistentWatcher w = new PersistentWatcher(c, p, true);
            w.getListenable().addListener((WatchedEvent e) -> ev.add(e.getType() + " " + e.getPath()));
            CountDownLatch placed = new CountDownLatch(1);
            w.getResetListenable().addListener(placed::countDown); // called once addWatch succeeded
            w.start();
            Harness.await(placed, "the persistent recursive watch to be in place");
            c2.create().forPath(p + "/k");
            c2.create().forPath(p + "/k/g");
            c2.delete().forPath(p + "/k/g");
            Harness.eq(Arrays.asList("NodeCreated " + p + "/k", "NodeCreated " + p + "/k/g",
                    "NodeDeleted " + p + "/k/g"),
                    Arrays.asList(take(ev, "1"), take(ev, "2"), take(ev, "3")), "recursive events");
            w.close();
        });

        h.check("persistent_node", () -> {
            String p = h.base + "/pnode";
            c.create().forPath(p);
            PersistentNode pn = new PersistentNode(c, CreateMode.EPHEMERAL, false, p + "/me", Harness.b("alive"));
            pn.start();
            Harness.expect(pn.waitForInitialCreate(WAIT, TimeUnit.MILLISECONDS), "initial create");
            long session = c.getZookeeperClient().getZooKeeper().getSessionId();
            Harness.eq(session, c2.checkExists().forPath(p + "/me").getEphemeralOwner(), "ephemeral owner");
            Harness.Events w = new Harness.Events("pnode");
            c2.checkExists().usingWatcher(w).forPath(p + "/me");
            c2.delete().forPath(p + "/me");
            w.expectNext(EventType.NodeDeleted, p + "/me");
            Harness.poll(() -> exists(c2, p + "/me"), "PersistentNode to recreate its node");
            pn.setData(Harness.b("new"));
            Harness.poll(() -> "new".equals(data(c2, p + "/me")), "PersistentNode's data update");
            pn.close();
            Harness.poll(() -> !exists(c2, p + "/me"), "the node to go with close()");
        });

        h.check("session_expiry_connection_state", () -> {
            String p = h.base + "/expiry";
            c.create().forPath(p);
            CuratorFramework x = newClient(h.proxyHosts, 6_000);
            BlockingQueue<ConnectionState> states = new LinkedBlockingQueue<>();
            x.getConnectionStateListenable().addListener((cli, st) -> states.add(st));
            x.create().withMode(CreateMode.EPHEMERAL).forPath(p + "/eph");
            PersistentNode pn = new PersistentNode(x, CreateMode.EPHEMERAL, false, p + "/pn", Harness.b("pn"));
            pn.start();
            Harness.expect(pn.waitForInitialCreate(WAIT, TimeUnit.MILLISECONDS), "PersistentNode initial create");
            ZooKeeper raw = x.getZookeeperClient().getZooKeeper();
            long old = raw.getSessionId();
            Harness.Events observer = new Harness.Events("observer");
            c.checkExists().usingWatcher(observer).forPath(p + "/eph");
            // a partition longer than the session: x is cut off behind the proxy while its session is
            // ended (attach to it with its id and password, then close); then x gets through again
            Harness.expect(h.holdAndCut() >= 1, "the proxy had no connection to cut");
            takeUntil(states, ConnectionState.SUSPENDED);
            Harness.Events twinEvents = new Harness.Events("twin");
            ZooKeeper twin = new ZooKeeper(h.hosts, 6_000, twinEvents, old, raw.getSessionPasswd());
            twinEvents.awaitState(KeeperState.SyncConnected);
            twin.close();
            observer.expectNext(EventType.NodeDeleted, p + "/eph");
            h.release();
            List<ConnectionState> beforeLost = takeUntil(states, ConnectionState.LOST);
            List<ConnectionState> beforeBack = takeUntil(states, ConnectionState.RECONNECTED);
            long now = x.getZookeeperClient().getZooKeeper().getSessionId();
            Harness.expect(now != old, "a new session after expiry (was %x, is %x)", old, now);
            Harness.eq(null, c.checkExists().forPath(p + "/eph"), "the expired session's ephemeral");
            Harness.poll(() -> {
                try {
                    Stat st = c.checkExists().forPath(p + "/pn");
                    return st != null && st.getEphemeralOwner() == now;
                } catch (Exception e) {
                    return false;
                }
            }, "PersistentNode to recreate its node in the new session");
            System.err.println("states before LOST " + beforeLost + ", before RECONNECTED " + beforeBack);
            pn.close();
        });

        for (CuratorFramework cf : clients) {
            try {
                cf.close();
            } catch (Exception e) {
                e.printStackTrace();
            }
        }
        h.exit();
    }

    static CuratorCacheListener listener(BlockingQueue<String> ev) {
        return CuratorCacheListener.builder()
                .forCreates(n -> ev.add("create " + n.getPath() + " " + Harness.s(n.getData())))
                .forChanges((o, n) -> ev.add("change " + n.getPath() + " " + Harness.s(n.getData())))
                .forDeletes(o -> ev.add("delete " + o.getPath()))
                .forInitialized(() -> ev.add("initialized"))
                .build();
    }

    static int participants(InterProcessMutex m) {
        try {
            return m.getParticipantNodes().size();
        } catch (Exception e) {
            return -1;
        }
    }

    static int children(CuratorFramework c, String p) {
        try {
            return c.getChildren().forPath(p).size();
        } catch (Exception e) {
            return -1;
        }
    }

    static boolean exists(CuratorFramework c, String p) {
        try {
            return c.checkExists().forPath(p) != null;
        } catch (Exception e) {
            return false;
        }
    }

    static String data(CuratorFramework c, String p) {
        try {
            return Harness.s(c.getData().forPath(p));
        } catch (Exception e) {
            return null;
        }
    }
}
