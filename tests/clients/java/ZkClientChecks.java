import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.Version;
import org.apache.zookeeper.Watcher.Event.EventType;
import org.apache.zookeeper.Watcher.Event.KeeperState;
import org.apache.zookeeper.Watcher.WatcherType;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooDefs.Ids;
import org.apache.zookeeper.ZooDefs.Perms;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.ClientInfo;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;

/**
 * Apache ZooKeeper's Java client (org.apache.zookeeper.ZooKeeper, Debian's libzookeeper-java),
 * unmodified, against the server: one CHECK line per feature.
 */
public final class ZkClientChecks {
    static final List<ACL> OPEN = Ids.OPEN_ACL_UNSAFE;

    public static void main(String[] args) throws Exception {
        Harness h = new Harness(args);
        System.out.println("VERSION " + Version.getFullVersion());
        Harness.Events mainEvents = new Harness.Events("main");
        ZooKeeper zk = h.connect(mainEvents);
        createAll(zk, h.base);
        Harness.Events otherEvents = new Harness.Events("other");
        ZooKeeper other = h.connect(otherEvents);

        h.check("connect_session", () -> {
            Harness.expect(zk.getSessionId() != 0, "session id is 0");
            Harness.eq(10_000, zk.getSessionTimeout(), "negotiated session timeout");
            Harness.eq(16, zk.getSessionPasswd().length, "session password length");
            Harness.expect(zk.getSessionId() != other.getSessionId(), "two sessions share an id");
            ZooKeeper small = h.connect(h.hosts, 1_000, new Harness.Events("small"));
            Harness.eq(4_000, small.getSessionTimeout(), "timeout below minSessionTimeout is raised to it");
            ZooKeeper big = h.connect(h.hosts, 100_000, new Harness.Events("big"));
            Harness.eq(40_000, big.getSessionTimeout(), "timeout above maxSessionTimeout is cut to it");
            small.close();
            big.close();
        });

        h.check("crud_and_stat", () -> {
            String p = h.base + "/crud";
            Harness.eq(p, zk.create(p, Harness.b("v0"), OPEN, CreateMode.PERSISTENT), "create returns the path");
            Stat st = new Stat();
            Harness.eq("v0", Harness.s(zk.getData(p, false, st)), "data");
            Harness.eq(0, st.getVersion(), "version");
            Harness.eq(2, st.getDataLength(), "dataLength");
            Harness.eq(0, st.getNumChildren(), "numChildren");
            Harness.eq(0L, st.getEphemeralOwner(), "ephemeralOwner");
            Harness.eq(st.getCzxid(), st.getMzxid(), "mzxid of a new node");
            Harness.eq(st.getCzxid(), st.getPzxid(), "pzxid of a new node");
            Harness.eq(st.getCtime(), st.getMtime(), "mtime of a new node");
            Stat set = zk.setData(p, Harness.b("v1"), 0);
            Harness.eq(1, set.getVersion(), "version after setData");
            Harness.expect(set.getMzxid() > st.getMzxid(), "mzxid did not grow: %d", set.getMzxid());
            Harness.eq(st.getCzxid(), set.getCzxid(), "czxid after setData");
            Harness.raises(KeeperException.BadVersionException.class, "setData with a stale version",
                    () -> zk.setData(p, Harness.b("x"), 0));
            Stat ex = zk.exists(p, false);
            Harness.eq(set, ex, "exists stat == setData stat");
            Harness.expect(zk.getChildren(h.base, false).contains("crud"), "child not listed");
            Harness.raises(KeeperException.BadVersionException.class, "delete with a wrong version",
                    () -> zk.delete(p, 5));
            zk.delete(p, 1);
            Harness.eq(null, zk.exists(p, false), "exists after delete");
            Harness.raises(KeeperException.NoNodeException.class, "getData after delete",
                    () -> zk.getData(p, false, null));
            Harness.raises(KeeperException.NoNodeException.class, "delete twice", () -> zk.delete(p, -1));
        });

        h.check("create_errors", () -> {
            String p = h.base + "/errs";
            zk.create(p, null, OPEN, CreateMode.PERSISTENT);
            Harness.eq(null, zk.getData(p, false, null), "null data stays null");
            Harness.raises(KeeperException.NodeExistsException.class, "create twice",
                    () -> zk.create(p, null, OPEN, CreateMode.PERSISTENT));
            Harness.raises(KeeperException.NoNodeException.class, "create under a missing parent",
                    () -> zk.create(p + "/missing/child", null, OPEN, CreateMode.PERSISTENT));
            zk.create(p + "/kid", null, OPEN, CreateMode.PERSISTENT);
            Harness.raises(KeeperException.NotEmptyException.class, "delete a parent",
                    () -> zk.delete(p, -1));
            zk.create(p + "/eph", null, OPEN, CreateMode.EPHEMERAL);
            Harness.raises(KeeperException.NoChildrenForEphemeralsException.class, "child of an ephemeral",
                    () -> zk.create(p + "/eph/kid", null, OPEN, CreateMode.PERSISTENT));
            Harness.raises(KeeperException.NoNodeException.class, "setData on a missing node",
                    () -> zk.setData(p + "/nope", null, -1));
        });

        h.check("create2_stat_and_children_stat", () -> {
            String p = h.base + "/c2";
            zk.create(p, null, OPEN, CreateMode.PERSISTENT);
            Stat created = new Stat();
            zk.create(p + "/a", Harness.b("abc"), OPEN, CreateMode.PERSISTENT, created);
            Harness.expect(created.getCzxid() > 0, "create2 stat not filled: %s", created);
            Harness.eq(3, created.getDataLength(), "create2 dataLength");
            Harness.eq(created, zk.exists(p + "/a", false), "create2 stat == exists stat");
            zk.create(p + "/b", null, OPEN, CreateMode.PERSISTENT);
            Stat last = new Stat();
            zk.create(p + "/c", null, OPEN, CreateMode.PERSISTENT, last);
            Stat parent = new Stat();
            List<String> kids = zk.getChildren(p, false, parent);
            Harness.eq(new TreeSet<>(Arrays.asList("a", "b", "c")), new TreeSet<>(kids), "children");
            Harness.eq(3, parent.getNumChildren(), "numChildren");
            Harness.eq(3, parent.getCversion(), "cversion");
            Harness.eq(last.getCzxid(), parent.getPzxid(), "pzxid = czxid of the last child created");
            zk.delete(p + "/b", -1);
            Stat after = zk.exists(p, false);
            Harness.eq(4, after.getCversion(), "cversion after a delete");
            Harness.eq(2, after.getNumChildren(), "numChildren after a delete");
            Harness.expect(after.getPzxid() > last.getCzxid(), "pzxid not moved by the delete");
        });

        h.check("sequential_nodes", () -> {
            String p = h.base + "/seq";
            zk.create(p, null, OPEN, CreateMode.PERSISTENT);
            zk.create(p + "/plain", null, OPEN, CreateMode.PERSISTENT);
            zk.delete(p + "/plain", -1);
            // the suffix is the parent's count of child creations; the cversion clients see also counts
            // deletions (DataNode.copyStat shows cversion * 2 - numChildren)
            for (int i = 0; i < 3; i++) {
                Stat st = zk.exists(p, false);
                Harness.eq(1 + i, (st.getCversion() + st.getNumChildren()) / 2, "creations so far");
                String got = zk.create(p + "/s-", null, OPEN, CreateMode.PERSISTENT_SEQUENTIAL);
                Harness.eq(p + "/s-" + String.format("%010d", 1 + i), got, "sequential name");
            }
            String e = zk.create(p + "/e-", null, OPEN, CreateMode.EPHEMERAL_SEQUENTIAL);
            Harness.eq(p + "/e-0000000004", e, "ephemeral sequential name");
            Harness.eq(6, zk.exists(p, false).getCversion(), "cversion after 5 creations and 1 deletion");
            Harness.eq(zk.getSessionId(), zk.exists(e, false).getEphemeralOwner(), "ephemeralOwner");
        });

        h.check("ephemeral_lifecycle", () -> {
            String p = h.base + "/eph";
            zk.create(p, null, OPEN, CreateMode.PERSISTENT);
            Harness.Events ev = new Harness.Events("owner");
            ZooKeeper owner = h.connect(ev);
            String e1 = owner.create(p + "/e", Harness.b("x"), OPEN, CreateMode.EPHEMERAL);
            String e2 = owner.create(p + "/q-", null, OPEN, CreateMode.EPHEMERAL_SEQUENTIAL);
            Harness.eq(owner.getSessionId(), zk.exists(e1, false).getEphemeralOwner(), "ephemeralOwner");
            Harness.eq(new TreeSet<>(Arrays.asList(e1, e2)), new TreeSet<>(owner.getEphemerals(p)),
                    "getEphemerals(prefix)");
            Harness.eq(new TreeSet<>(Arrays.asList(e1, e2)), new TreeSet<>(owner.getEphemerals()),
                    "getEphemerals()");
            Harness.eq(Collections.emptyList(), zk.getEphemerals(p), "another session's ephemerals");
            Harness.Events watch = new Harness.Events("watch");
            zk.exists(e1, watch);
            owner.close();
            watch.expectNext(EventType.NodeDeleted, e1);
            Harness.eq(null, zk.exists(e2, false), "ephemeral sequential node after close");
            Harness.eq(0, zk.getChildren(p, false).size(), "children after close");
        });

        h.check("one_shot_watches", () -> {
            String p = h.base + "/watch";
            zk.create(p, Harness.b("0"), OPEN, CreateMode.PERSISTENT);
            Harness.Events data = new Harness.Events("data");
            Harness.Events child = new Harness.Events("child");
            Harness.Events exist = new Harness.Events("exist");
            zk.getData(p, data, null);
            zk.getChildren(p, child);
            zk.exists(p + "/new", exist);
            other.setData(p, Harness.b("1"), -1);
            data.expectNext(EventType.NodeDataChanged, p);
            other.setData(p, Harness.b("2"), -1); // one-shot: no second event
            other.create(p + "/new", null, OPEN, CreateMode.PERSISTENT);
            exist.expectNext(EventType.NodeCreated, p + "/new");
            child.expectNext(EventType.NodeChildrenChanged, p);
            zk.getData(p + "/new", data, null);
            zk.getChildren(p + "/new", child);
            other.delete(p + "/new", -1);
            data.expectNext(EventType.NodeDeleted, p + "/new");
            child.expectNext(EventType.NodeDeleted, p + "/new");
            data.expectQuiet(zk, h.base);
            child.expectQuiet(zk, h.base);
            exist.expectQuiet(zk, h.base);
        });

        h.check("default_watcher_and_own_writes", () -> {
            String p = h.base + "/defw";
            zk.create(p, null, OPEN, CreateMode.PERSISTENT);
            zk.getData(p, true, null); // the handle's default watcher
            zk.setData(p, Harness.b("mine"), -1); // own write fires own watch
            mainEvents.expectNext(EventType.NodeDataChanged, p);
        });

        h.check("chroot", () -> {
            String root = h.base + "/chroot";
            zk.create(root, null, OPEN, CreateMode.PERSISTENT);
            Harness.Events ev = new Harness.Events("chroot");
            ZooKeeper c = h.connect(h.hosts + root, 10_000, ev);
            Harness.eq("/x", c.create("/x", Harness.b("in"), OPEN, CreateMode.PERSISTENT), "create in a chroot");
            Harness.eq("/s0000000001", c.create("/s", null, OPEN, CreateMode.PERSISTENT_SEQUENTIAL),
                    "sequential in a chroot");
            Harness.eq("in", Harness.s(zk.getData(root + "/x", false, null)), "node under the chroot");
            Harness.eq(new TreeSet<>(Arrays.asList("x", "s0000000001")), new TreeSet<>(c.getChildren("/", false)),
                    "children of the chroot");
            c.getData("/x", ev, null);
            zk.setData(root + "/x", Harness.b("out"), -1);
            ev.expectNext(EventType.NodeDataChanged, "/x");
            List<OpResult> res = c.multi(Arrays.asList(Op.create("/m", null, OPEN, CreateMode.PERSISTENT)));
            // the 3.8.0 Java client does not strip the chroot from multi's create results (a client quirk:
            // the server answers the full path, as for a plain create, which the client does strip)
            Harness.eq(root + "/m", ((OpResult.CreateResult) res.get(0)).getPath(), "multi create path in a chroot");
            c.close();
        });

        h.check("watches_survive_reconnect", () -> {
            String p = h.base + "/reconnect";
            zk.create(p, null, OPEN, CreateMode.PERSISTENT);
            for (String n : new String[] {"d", "c", "g", "u"}) {
                zk.create(p + "/" + n, Harness.b("0"), OPEN, CreateMode.PERSISTENT);
            }
            Harness.Events ev = new Harness.Events("proxied");
            ZooKeeper pz = h.connect(h.proxyHosts, 10_000, ev);
            long session = pz.getSessionId();
            pz.getData(p + "/d", true, null); // data watch: changed while away
            pz.exists(p + "/m", true); // exists watch: created while away
            pz.getChildren(p + "/c", true); // child watch: child added while away
            pz.getData(p + "/g", true, null); // data watch: deleted while away
            pz.getData(p + "/u", true, null); // data watch: untouched
            pz.exists(p + "/k", true); // exists watch: still missing
            Harness.expect(h.holdAndCut() >= 1, "the proxy had no connection to cut");
            ev.awaitState(KeeperState.Disconnected);
            zk.setData(p + "/d", Harness.b("1"), -1);
            zk.create(p + "/m", null, OPEN, CreateMode.PERSISTENT);
            zk.create(p + "/c/kid", null, OPEN, CreateMode.PERSISTENT);
            zk.delete(p + "/g", -1);
            h.release();
            ev.awaitState(KeeperState.SyncConnected);
            Harness.eq(session, pz.getSessionId(), "session id after reconnect");
            Set<String> got = new HashSet<>(ev.take(4));
            Set<String> want = new HashSet<>(Arrays.asList("NodeDataChanged " + p + "/d", "NodeCreated " + p + "/m",
                    "NodeChildrenChanged " + p + "/c", "NodeDeleted " + p + "/g"));
            Harness.eq(want, got, "events missed while disconnected");
            ev.expectQuiet(pz, h.base);
            zk.setData(p + "/u", Harness.b("1"), -1); // the untouched watch was re-registered
            ev.expectNext(EventType.NodeDataChanged, p + "/u");
            zk.create(p + "/k", null, OPEN, CreateMode.PERSISTENT);
            ev.expectNext(EventType.NodeCreated, p + "/k");
            pz.close();
        });

        h.check("persistent_watch", () -> {
            String p = h.base + "/pw";
            zk.create(p, null, OPEN, CreateMode.PERSISTENT);
            Harness.Events ev = new Harness.Events("persistent");
            zk.addWatch(p, ev, AddWatchMode.PERSISTENT);
            other.setData(p, Harness.b("1"), -1);
            other.setData(p, Harness.b("2"), -1);
            other.create(p + "/kid", null, OPEN, CreateMode.PERSISTENT);
            other.setData(p + "/kid", Harness.b("x"), -1); // not watched: a child's data
            other.delete(p + "/kid", -1);
            other.delete(p, -1);
            other.create(p, null, OPEN, CreateMode.PERSISTENT);
            Harness.eq(Arrays.asList("NodeDataChanged " + p, "NodeDataChanged " + p, "NodeChildrenChanged " + p,
                    "NodeChildrenChanged " + p, "NodeDeleted " + p, "NodeCreated " + p), ev.take(6),
                    "persistent watch events");
            ev.expectQuiet(zk, h.base);
            zk.removeWatches(p, ev, WatcherType.Any, false);
            Harness.eq(Arrays.asList("PersistentWatchRemoved " + p), ev.take(1), "removal event");
            other.setData(p, Harness.b("3"), -1);
            ev.expectQuiet(zk, h.base);
        });

        h.check("persistent_recursive_watch", () -> {
            String p = h.base + "/prw";
            zk.create(p, null, OPEN, CreateMode.PERSISTENT);
            Harness.Events ev = new Harness.Events("recursive");
            zk.addWatch(p, ev, AddWatchMode.PERSISTENT_RECURSIVE);
            other.create(p + "/a", null, OPEN, CreateMode.PERSISTENT);
            other.create(p + "/a/b", null, OPEN, CreateMode.PERSISTENT);
            other.setData(p + "/a/b", Harness.b("x"), -1);
            other.setData(p, Harness.b("y"), -1);
            other.delete(p + "/a/b", -1);
            other.create(p + "/a/e", null, OPEN, CreateMode.EPHEMERAL);
            Harness.eq(Arrays.asList("NodeCreated " + p + "/a", "NodeCreated " + p + "/a/b",
                    "NodeDataChanged " + p + "/a/b", "NodeDataChanged " + p, "NodeDeleted " + p + "/a/b",
                    "NodeCreated " + p + "/a/e"), ev.take(6), "recursive watch events (no NodeChildrenChanged)");
            ev.expectQuiet(zk, h.base);
            Harness.Events plain = new Harness.Events("plain");
            zk.addWatch(p + "/a", plain, AddWatchMode.PERSISTENT); // plain persistent below a recursive one
            other.delete(p + "/a/e", -1);
            Harness.eq(Arrays.asList("NodeChildrenChanged " + p + "/a"), plain.take(1), "plain persistent watch");
            Harness.eq(Arrays.asList("NodeDeleted " + p + "/a/e"), ev.take(1), "recursive watch");
        });

        h.check("persistent_watches_survive_reconnect", () -> {
            String p = h.base + "/pwr";
            zk.create(p, null, OPEN, CreateMode.PERSISTENT);
            String q = h.base + "/pwr-oneshot";
            zk.create(q, null, OPEN, CreateMode.PERSISTENT);
            Harness.Events ev = new Harness.Events("proxied-persistent");
            ZooKeeper pz = h.connect(h.proxyHosts, 10_000, ev);
            pz.addWatch(p, AddWatchMode.PERSISTENT_RECURSIVE);
            pz.getData(q, true, null); // plus a one-shot data watch elsewhere (3.8 mixes modes badly on one path)
            other.create(p + "/before", null, OPEN, CreateMode.PERSISTENT);
            Harness.eq(Arrays.asList("NodeCreated " + p + "/before"), ev.take(1), "before the cut");
            Harness.expect(h.holdAndCut() >= 1, "the proxy had no connection to cut");
            ev.awaitState(KeeperState.Disconnected);
            other.create(p + "/away", null, OPEN, CreateMode.PERSISTENT);
            other.setData(q, Harness.b("away"), -1);
            h.release();
            ev.awaitState(KeeperState.SyncConnected);
            // setWatches2: the one-shot data watch fires for the missed change; persistent watches are
            // re-registered but do not replay what happened while away (as ZooKeeper does)
            Harness.eq(Arrays.asList("NodeDataChanged " + q), ev.take(1), "first event after reconnect");
            other.create(p + "/after", null, OPEN, CreateMode.PERSISTENT);
            other.setData(p + "/after", Harness.b("x"), -1);
            Harness.eq(Arrays.asList("NodeCreated " + p + "/after", "NodeDataChanged " + p + "/after"), ev.take(2),
                    "persistent recursive watch after reconnect");
            pz.close();
        });

        h.check("remove_watches", () -> {
            String p = h.base + "/rw";
            zk.create(p, null, OPEN, CreateMode.PERSISTENT);
            Harness.Events w1 = new Harness.Events("w1");
            Harness.Events w2 = new Harness.Events("w2");
            zk.getData(p, w1, null);
            zk.getChildren(p, w1);
            zk.getData(p, w2, null);
            zk.removeWatches(p, w1, WatcherType.Data, false); // checkWatches + removeWatches on the wire
            Harness.eq(Arrays.asList("DataWatchRemoved " + p), w1.take(1), "w1 data watch removed");
            other.setData(p, Harness.b("1"), -1);
            w2.expectNext(EventType.NodeDataChanged, p);
            Harness.raises(KeeperException.NoWatcherException.class, "remove a watch that is gone",
                    () -> zk.removeWatches(p, w1, WatcherType.Data, false));
            zk.removeAllWatches(p, WatcherType.Children, false);
            Harness.eq(Arrays.asList("ChildWatchRemoved " + p), w1.take(1), "w1 child watch removed");
            other.create(p + "/kid", null, OPEN, CreateMode.PERSISTENT);
            w1.expectQuiet(zk, h.base);
            w2.expectQuiet(zk, h.base);
        });

        h.check("multi_transaction", () -> {
            String p = h.base + "/multi";
            zk.create(p, null, OPEN, CreateMode.PERSISTENT);
            List<OpResult> res = zk.multi(Arrays.asList(
                    Op.create(p + "/a", Harness.b("a"), OPEN, CreateMode.PERSISTENT),
                    Op.create(p + "/b", null, OPEN, CreateMode.PERSISTENT),
                    Op.setData(p + "/a", Harness.b("a1"), 0),
                    Op.check(p + "/b", 0),
                    Op.delete(p + "/b", 0),
                    Op.create(p + "/s-", null, OPEN, CreateMode.PERSISTENT_SEQUENTIAL)));
            Harness.eq(6, res.size(), "result count");
            Harness.eq(p + "/a", ((OpResult.CreateResult) res.get(0)).getPath(), "create result");
            Harness.eq(1, ((OpResult.SetDataResult) res.get(2)).getStat().getVersion(), "setData result");
            Harness.expect(res.get(3) instanceof OpResult.CheckResult, "check result: %s", res.get(3));
            Harness.expect(res.get(4) instanceof OpResult.DeleteResult, "delete result: %s", res.get(4));
            Harness.eq(p + "/s-0000000002", ((OpResult.CreateResult) res.get(5)).getPath(), "sequential in multi");
            Stat a = zk.exists(p + "/a", false);
            Stat s = zk.exists(p + "/s-0000000002", false);
            Harness.eq(a.getMzxid(), s.getCzxid(), "one zxid for the whole multi");
            Harness.eq(null, zk.exists(p + "/b", false), "b deleted");
            KeeperException e = Harness.raises(KeeperException.BadVersionException.class, "failing multi",
                    () -> zk.multi(Arrays.asList(
                            Op.create(p + "/c", null, OPEN, CreateMode.PERSISTENT),
                            Op.check(p + "/a", 99),
                            Op.setData(p + "/a", Harness.b("never"), -1))));
            List<Integer> codes = new ArrayList<>();
            for (OpResult r : e.getResults()) {
                codes.add(((OpResult.ErrorResult) r).getErr());
            }
            Harness.eq(Arrays.asList(0, KeeperException.Code.BADVERSION.intValue(),
                    KeeperException.Code.RUNTIMEINCONSISTENCY.intValue()), codes, "failing multi's results");
            Harness.eq(null, zk.exists(p + "/c", false), "nothing of a failed multi is applied");
            Harness.eq("a1", Harness.s(zk.getData(p + "/a", false, null)), "data untouched by a failed multi");
            List<OpResult> tx = zk.transaction().create(p + "/t", null, OPEN, CreateMode.PERSISTENT)
                    .setData(p + "/t", Harness.b("t"), 0).commit();
            Harness.eq(2, tx.size(), "Transaction API results");
            CountDownLatch done = new CountDownLatch(1);
            AtomicInteger rc = new AtomicInteger(-1);
            zk.multi(Arrays.asList(Op.delete(p + "/t", 1)), (code, path, ctx, results) -> {
                rc.set(code);
                done.countDown();
            }, null);
            Harness.await(done, "async multi");
            Harness.eq(0, rc.get(), "async multi rc");
        });

        h.check("multi_read", () -> {
            String p = h.base + "/mread";
            zk.create(p, Harness.b("top"), OPEN, CreateMode.PERSISTENT);
            zk.create(p + "/x", Harness.b("x"), OPEN, CreateMode.PERSISTENT);
            List<OpResult> res = zk.multi(Arrays.asList(Op.getChildren(p), Op.getData(p + "/x"),
                    Op.getData(p + "/missing"), Op.getData(p)));
            Harness.eq(Arrays.asList("x"), ((OpResult.GetChildrenResult) res.get(0)).getChildren(), "children");
            OpResult.GetDataResult d = (OpResult.GetDataResult) res.get(1);
            Harness.eq("x", Harness.s(d.getData()), "data");
            Harness.eq(zk.exists(p + "/x", false), d.getStat(), "stat");
            Harness.eq(KeeperException.Code.NONODE.intValue(), ((OpResult.ErrorResult) res.get(2)).getErr(),
                    "missing node in a read multi");
            Harness.eq("top", Harness.s(((OpResult.GetDataResult) res.get(3)).getData()), "after an error");
        });

        h.check("acl_digest_and_auth", () -> {
            String p = h.base + "/acl";
            zk.create(p, null, OPEN, CreateMode.PERSISTENT);
            ZooKeeper alice = h.connect(new Harness.Events("alice"));
            alice.addAuthInfo("digest", Harness.b("alice:secret"));
            alice.create(p + "/mine", Harness.b("private"), Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT);
            Stat st = new Stat();
            Harness.raises(KeeperException.NoAuthException.class, "getACL needs READ or ADMIN",
                    () -> zk.getACL(p + "/mine", new Stat()));
            List<ACL> acl = alice.getACL(p + "/mine", st);
            String digest = DigestAuthenticationProvider.generateDigest("alice:secret");
            Harness.eq(Arrays.asList(new ACL(Perms.ALL, new Id("digest", digest))), acl, "auth ACL as stored");
            Harness.eq(0, st.getAversion(), "aversion");
            Harness.raises(KeeperException.NoAuthException.class, "read without auth",
                    () -> zk.getData(p + "/mine", false, null));
            ZooKeeper mallory = h.connect(new Harness.Events("mallory"));
            mallory.addAuthInfo("digest", Harness.b("alice:wrong"));
            Harness.raises(KeeperException.NoAuthException.class, "read with a wrong password",
                    () -> mallory.getData(p + "/mine", false, null));
            ZooKeeper alice2 = h.connect(new Harness.Events("alice2"));
            alice2.addAuthInfo("digest", Harness.b("alice:secret"));
            Harness.eq("private", Harness.s(alice2.getData(p + "/mine", false, null)), "read with auth");
            Harness.raises(KeeperException.BadVersionException.class, "setACL with a stale aversion",
                    () -> alice.setACL(p + "/mine", Ids.READ_ACL_UNSAFE, 7));
            Stat after = alice.setACL(p + "/mine", Arrays.asList(new ACL(Perms.READ, Ids.ANYONE_ID_UNSAFE),
                    new ACL(Perms.ALL, new Id("digest", digest))), 0);
            Harness.eq(1, after.getAversion(), "aversion after setACL");
            Harness.eq("private", Harness.s(zk.getData(p + "/mine", false, null)), "world-readable now");
            Harness.raises(KeeperException.NoAuthException.class, "write without WRITE",
                    () -> zk.setData(p + "/mine", Harness.b("x"), -1));
            Harness.raises(KeeperException.NoAuthException.class, "create without CREATE",
                    () -> zk.create(p + "/mine/kid", null, OPEN, CreateMode.PERSISTENT));
            alice.create(p + "/mine/kid", null, OPEN, CreateMode.PERSISTENT);
            Harness.raises(KeeperException.NoAuthException.class, "delete without DELETE",
                    () -> zk.delete(p + "/mine/kid", -1));
            Harness.raises(KeeperException.InvalidACLException.class, "auth ACL without any auth",
                    () -> zk.create(p + "/bad", null, Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT));
            Harness.raises(KeeperException.InvalidACLException.class, "malformed digest id",
                    () -> zk.create(p + "/bad", null, Arrays.asList(new ACL(Perms.ALL, new Id("digest", "nocolon"))),
                            CreateMode.PERSISTENT));
            ZooKeeper root = h.connect(new Harness.Events("super"));
            root.addAuthInfo("digest", Harness.b(h.superAuth));
            alice.setACL(p + "/mine", Arrays.asList(new ACL(Perms.ALL, new Id("digest", digest))), -1);
            Harness.eq("private", Harness.s(root.getData(p + "/mine", false, null)), "super reads anything");
            root.setData(p + "/mine", Harness.b("by super"), -1);
            for (ZooKeeper z : new ZooKeeper[] {alice, alice2, mallory, root}) {
                z.close();
            }
        });

        h.check("acl_ip_and_world", () -> {
            String p = h.base + "/ipacl";
            zk.create(p, null, OPEN, CreateMode.PERSISTENT);
            zk.create(p + "/lo", Harness.b("lo"), Arrays.asList(new ACL(Perms.ALL, new Id("ip", "127.0.0.1"))),
                    CreateMode.PERSISTENT);
            zk.create(p + "/net", Harness.b("net"), Arrays.asList(new ACL(Perms.ALL, new Id("ip", "127.0.0.0/8"))),
                    CreateMode.PERSISTENT);
            zk.create(p + "/far", Harness.b("far"), Arrays.asList(new ACL(Perms.ALL, new Id("ip", "10.1.2.3"))),
                    CreateMode.PERSISTENT);
            zk.create(p + "/ro", Harness.b("ro"), Ids.READ_ACL_UNSAFE, CreateMode.PERSISTENT);
            Harness.eq("lo", Harness.s(other.getData(p + "/lo", false, null)), "ip ACL matches 127.0.0.1");
            Harness.eq("net", Harness.s(other.getData(p + "/net", false, null)), "ip ACL matches a CIDR");
            Harness.raises(KeeperException.NoAuthException.class, "ip ACL of another address",
                    () -> other.getData(p + "/far", false, null));
            Harness.eq("ro", Harness.s(other.getData(p + "/ro", false, null)), "world READ");
            Harness.raises(KeeperException.NoAuthException.class, "world READ only",
                    () -> other.setData(p + "/ro", null, -1));
            Harness.eq(Ids.READ_ACL_UNSAFE, zk.getACL(p + "/ro", new Stat()), "getACL of world READ");
        });

        h.check("who_am_i", () -> {
            ZooKeeper z = h.connect(new Harness.Events("whoami"));
            List<ClientInfo> before = z.whoAmI();
            Harness.eq(1, before.size(), "identities before auth: " + before);
            Harness.eq("ip", before.get(0).getAuthScheme(), "scheme before auth");
            Harness.eq("127.0.0.1", before.get(0).getUser(), "ip identity");
            z.addAuthInfo("digest", Harness.b("bob:pw"));
            List<String> ids = new ArrayList<>();
            for (ClientInfo ci : z.whoAmI()) {
                ids.add(ci.getAuthScheme() + ":" + ci.getUser());
            }
            Harness.eq(Arrays.asList("digest:bob", "ip:127.0.0.1"), ids, "identities after digest auth");
            z.close();
        });

        h.check("get_all_children_number", () -> {
            String p = h.base + "/count";
            zk.create(p, null, OPEN, CreateMode.PERSISTENT);
            for (String n : new String[] {"a", "b", "c", "a/x", "a/y", "a/x/z"}) {
                zk.create(p + "/" + n, null, OPEN, CreateMode.PERSISTENT);
            }
            Harness.eq(6, zk.getAllChildrenNumber(p), "descendants");
            Harness.eq(0, zk.getAllChildrenNumber(p + "/c"), "a leaf");
            Harness.raises(KeeperException.NoNodeException.class, "missing node",
                    () -> zk.getAllChildrenNumber(p + "/nope"));
        });

        h.check("container_node", () -> {
            String p = h.base + "/container";
            Harness.eq(p, zk.create(p, null, OPEN, CreateMode.CONTAINER), "create container");
            zk.create(p + "/kid", null, OPEN, CreateMode.PERSISTENT);
            Harness.Events ev = new Harness.Events("container");
            zk.exists(p, ev);
            zk.delete(p + "/kid", -1);
            ev.expectNext(EventType.NodeDeleted, p); // the server removes the emptied container
        });

        h.check("ttl_node", () -> {
            String p = h.base + "/ttl";
            Stat st = new Stat();
            zk.create(p, Harness.b("t"), OPEN, CreateMode.PERSISTENT_WITH_TTL, st, 300);
            Harness.eq(0L, st.getEphemeralOwner(), "a TTL node shows ephemeralOwner 0 (DataNode.copyStat)");
            String seq = zk.create(p + "-s-", null, OPEN, CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, null, 300);
            Harness.Events ev = new Harness.Events("ttl");
            zk.exists(p, ev);
            zk.exists(seq, ev);
            Harness.eq(new HashSet<>(Arrays.asList("NodeDeleted " + p, "NodeDeleted " + seq)),
                    new HashSet<>(ev.take(2)), "TTL nodes removed after their TTL");
        });

        h.check("sync", () -> {
            CountDownLatch done = new CountDownLatch(1);
            AtomicReference<String> got = new AtomicReference<>();
            AtomicInteger rc = new AtomicInteger(-1);
            zk.sync(h.base, (code, path, ctx) -> {
                rc.set(code);
                got.set(path);
                done.countDown();
            }, null);
            Harness.await(done, "sync callback");
            Harness.eq(0, rc.get(), "sync rc");
            Harness.eq(h.base, got.get(), "sync path");
        });

        h.check("async_pipelining_order", () -> {
            String p = h.base + "/pipe";
            zk.create(p, null, OPEN, CreateMode.PERSISTENT);
            int n = 300;
            List<String> order = Collections.synchronizedList(new ArrayList<>());
            CountDownLatch done = new CountDownLatch(n * 2);
            for (int i = 0; i < n; i++) {
                String path = p + "/n" + i;
                zk.create(path, Harness.b("" + i), OPEN, CreateMode.PERSISTENT, (rc, pth, ctx, name) -> {
                    order.add("c" + rc + ":" + name);
                    done.countDown();
                }, null);
                zk.getData(path, false, (rc, pth, ctx, data, stat) -> {
                    order.add("g" + rc + ":" + Harness.s(data));
                    done.countDown();
                }, null);
            }
            Harness.await(done, "all async replies");
            for (int i = 0; i < n; i++) {
                Harness.eq("c0:" + p + "/n" + i, order.get(2 * i), "reply " + (2 * i));
                Harness.eq("g0:" + i, order.get(2 * i + 1), "reply " + (2 * i + 1));
            }
            Harness.eq(n, zk.exists(p, false).getNumChildren(), "numChildren");
        });

        h.check("large_data", () -> {
            String p = h.base + "/large";
            byte[] big = new byte[1_000_000];
            for (int i = 0; i < big.length; i++) {
                big[i] = (byte) (i * 31);
            }
            zk.create(p, big, OPEN, CreateMode.PERSISTENT);
            Harness.eq(big, zk.getData(p, false, null), "1 MB of data round-trips");
            Harness.Events victimEvents = new Harness.Events("victim");
            ZooKeeper victim = h.connect(victimEvents);
            Harness.raises(KeeperException.ConnectionLossException.class, "data over jute.maxbuffer",
                    () -> victim.setData(p, new byte[1_100_000], -1));
            victimEvents.awaitState(KeeperState.Disconnected);
            victimEvents.awaitState(KeeperState.SyncConnected);
            Harness.eq(big, victim.getData(p, false, null), "the session goes on after reconnecting");
        });

        h.check("session_reattach", () -> {
            String p = h.base + "/reattach";
            zk.create(p, null, OPEN, CreateMode.PERSISTENT);
            ZooKeeper a = h.connect(new Harness.Events("a"));
            a.create(p + "/e", null, OPEN, CreateMode.EPHEMERAL);
            Harness.Events ev = new Harness.Events("again");
            ZooKeeper again = new ZooKeeper(h.hosts, 10_000, ev, a.getSessionId(), a.getSessionPasswd());
            h.opened.add(again);
            ev.awaitState(KeeperState.SyncConnected);
            Harness.eq(a.getSessionId(), again.getSessionId(), "same session id");
            Harness.eq(a.getSessionId(), again.exists(p + "/e", false).getEphemeralOwner(), "owns the ephemeral");
            again.create(p + "/e2", null, OPEN, CreateMode.EPHEMERAL);
            Harness.eq(a.getSessionId(), zk.exists(p + "/e2", false).getEphemeralOwner(), "same owner");
            Harness.Events bad = new Harness.Events("badpw");
            byte[] wrong = a.getSessionPasswd().clone();
            wrong[0] ^= 1;
            ZooKeeper z = new ZooKeeper(h.hosts, 10_000, bad, a.getSessionId(), wrong);
            h.opened.add(z);
            bad.awaitState(KeeperState.Expired);
            Harness.expect(zk.exists(p + "/e", false) != null, "a wrong password must not end the session");
            again.close(); // closes the shared session; `a` is left to die with the program
            h.opened.remove(a);
        });

        h.check("session_expiry", () -> {
            String p = h.base + "/expiry";
            zk.create(p, null, OPEN, CreateMode.PERSISTENT);
            // a partition longer than the session: the handle is cut off behind the proxy while the
            // session ends (attach to it with its id and password, then close); when the handle gets
            // through again, the server says the session expired
            Harness.Events ev = new Harness.Events("doomed");
            ZooKeeper doomed = h.connect(h.proxyHosts, 6_000, ev);
            doomed.create(p + "/e", null, OPEN, CreateMode.EPHEMERAL);
            Harness.Events watcher = new Harness.Events("observer");
            zk.exists(p + "/e", watcher);
            Harness.expect(h.holdAndCut() >= 1, "the proxy had no connection to cut");
            ev.awaitState(KeeperState.Disconnected);
            Harness.Events twinEvents = new Harness.Events("twin");
            ZooKeeper twin = new ZooKeeper(h.hosts, 6_000, twinEvents, doomed.getSessionId(),
                    doomed.getSessionPasswd());
            twinEvents.awaitState(KeeperState.SyncConnected);
            Harness.eq(doomed.getSessionId(), twin.getSessionId(), "the twin's session");
            twin.close();
            watcher.expectNext(EventType.NodeDeleted, p + "/e");
            h.release();
            ev.awaitState(KeeperState.Expired);
            Harness.raises(KeeperException.SessionExpiredException.class, "a call on an expired handle",
                    () -> doomed.exists(p, false));
            doomed.close();
        });

        for (ZooKeeper z : h.opened) {
            try {
                z.close();
            } catch (Exception e) {
                e.printStackTrace();
            }
        }
        h.exit();
    }

    static void createAll(ZooKeeper zk, String path) throws Exception {
        StringBuilder sb = new StringBuilder();
        for (String part : path.substring(1).split("/")) {
            sb.append('/').append(part);
            try {
                zk.create(sb.toString(), null, OPEN, CreateMode.PERSISTENT);
            } catch (KeeperException.NodeExistsException e) {
                // fine
            }
        }
    }
}
