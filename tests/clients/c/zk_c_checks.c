/*
 * Apache ZooKeeper's C client (Debian's libzookeeper-mt, the multi-threaded binding),
 * unmodified, against the server: one "CHECK name PASS|FAIL reason" line per feature.
 *
 * Usage: zk_c_checks hosts proxyHosts proxyControlPort basePath superUser:password
 *
 * Watch notifications and session events go to one queue (each handle and each watcher
 * has a tag); waits are bounded (WAIT_S) condition-variable waits, never sleeps.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#define WAIT_S 15
#define MAXEV 8192

static const char *HOSTS, *PROXY_HOSTS, *BASE, *SUPER_AUTH;
static int CONTROL_PORT;
static int failures;
static char failmsg[2048];

/* ---- checks ------------------------------------------------------------------------- */

#define FAIL(...)                                                   \
    do {                                                            \
        snprintf(failmsg, sizeof failmsg, __VA_ARGS__);             \
        return 1;                                                   \
    } while (0)
#define REQUIRE(cond, ...)                                          \
    do {                                                            \
        if (!(cond)) {                                              \
            char _m[1024];                                          \
            snprintf(_m, sizeof _m, __VA_ARGS__);                   \
            FAIL("line %d: %s", __LINE__, _m);                      \
        }                                                           \
    } while (0)
#define RC(expr, want)                                                                          \
    do {                                                                                        \
        int _rc = (expr), _want = (want);                                                       \
        if (_rc != _want)                                                                       \
            FAIL("line %d: %s gave %d (%s), expected %d (%s)", __LINE__, #expr, _rc, zerror(_rc), \
                 _want, zerror(_want));                                                         \
    } while (0)
#define OK(expr) RC(expr, ZOK)
#define STREQ(a, b, what)                                                                       \
    do {                                                                                        \
        const char *_a = (a), *_b = (b);                                                        \
        if (!_a || !_b || strcmp(_a, _b) != 0)                                                  \
            FAIL("line %d: %s: expected <%s> got <%s>", __LINE__, what, _a ? _a : "(null)",     \
                 _b ? _b : "(null)");                                                           \
    } while (0)
#define CALL(expr)          \
    do {                    \
        if ((expr) != 0)    \
            return 1;       \
    } while (0)

static void run(const char *name, int (*fn)(void)) {
    failmsg[0] = 0;
    int r = fn();
    for (char *p = failmsg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    if (r) {
        failures++;
        printf("CHECK %s FAIL %s\n", name, failmsg);
    } else {
        printf("CHECK %s PASS\n", name);
    }
    fflush(stdout);
}

/* ---- the event queue ------------------------------------------------------------------ */

typedef struct {
    char tag[48];
    int type, state, used;
    char path[512];
} event_t;

static event_t evq[MAXEV];
static int evn;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static void watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx) {
    (void)zh;
    pthread_mutex_lock(&mu);
    if (evn < MAXEV) {
        event_t *e = &evq[evn++];
        snprintf(e->tag, sizeof e->tag, "%s", ctx ? (const char *)ctx : "?");
        e->type = type;
        e->state = state;
        snprintf(e->path, sizeof e->path, "%s", path ? path : "");
        e->used = 0;
    }
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void deadline_in(struct timespec *ts, int seconds) {
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += seconds;
}

static const char *type_name(int t) {
    if (t == ZOO_CREATED_EVENT) return "CREATED";
    if (t == ZOO_DELETED_EVENT) return "DELETED";
    if (t == ZOO_CHANGED_EVENT) return "CHANGED";
    if (t == ZOO_CHILD_EVENT) return "CHILD";
    if (t == ZOO_SESSION_EVENT) return "SESSION";
    if (t == ZOO_NOTWATCHING_EVENT) return "NOTWATCHING";
    return "UNKNOWN";
}

/* Wait for a session event of `state` for `tag`; 0 when seen. */
static int wait_state(const char *tag, int state) {
    struct timespec ts;
    deadline_in(&ts, WAIT_S);
    pthread_mutex_lock(&mu);
    for (;;) {
        for (int i = 0; i < evn; i++) {
            event_t *e = &evq[i];
            if (!e->used && e->type == ZOO_SESSION_EVENT && strcmp(e->tag, tag) == 0 && e->state == state) {
                e->used = 1;
                pthread_mutex_unlock(&mu);
                return 0;
            }
        }
        if (pthread_cond_timedwait(&cv, &mu, &ts) == ETIMEDOUT) {
            pthread_mutex_unlock(&mu);
            return -1;
        }
    }
}

/* The next (oldest unconsumed) node event for `tag`, consumed; 0 when one came in time. */
static int next_event(const char *tag, event_t *out) {
    struct timespec ts;
    deadline_in(&ts, WAIT_S);
    pthread_mutex_lock(&mu);
    for (;;) {
        for (int i = 0; i < evn; i++) {
            event_t *e = &evq[i];
            if (!e->used && e->type != ZOO_SESSION_EVENT && strcmp(e->tag, tag) == 0) {
                e->used = 1;
                *out = *e;
                pthread_mutex_unlock(&mu);
                return 0;
            }
        }
        if (pthread_cond_timedwait(&cv, &mu, &ts) == ETIMEDOUT) {
            pthread_mutex_unlock(&mu);
            return -1;
        }
    }
}

static int expect_event(const char *tag, int type, const char *path) {
    event_t e;
    if (next_event(tag, &e) != 0)
        FAIL("%s: no event within %ds (waiting for %s %s)", tag, WAIT_S, type_name(type), path);
    if (e.type != type || strcmp(e.path, path) != 0)
        FAIL("%s: expected %s %s, got %s %s", tag, type_name(type), path, type_name(e.type), e.path);
    return 0;
}

static void path_join(char *out, size_t n, const char *a, const char *b) { snprintf(out, n, "%s/%s", a, b); }

/*
 * No other node event is pending for `tag` on `zh`: watch a fresh sentinel and create it; a
 * session's notifications arrive in transaction order, so the sentinel's event must come next.
 */
static int expect_quiet(zhandle_t *zh, const char *tag) {
    static int counter;
    char sentinel[512];
    snprintf(sentinel, sizeof sentinel, "%s/sentinel-%d-%d", BASE, (int)getpid(), ++counter);
    struct Stat st;
    RC(zoo_wexists(zh, sentinel, watcher, (void *)tag, &st), ZNONODE);
    OK(zoo_create(zh, sentinel, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0));
    event_t e;
    if (next_event(tag, &e) != 0)
        FAIL("%s: the sentinel's event did not come", tag);
    if (e.type != ZOO_CREATED_EVENT || strcmp(e.path, sentinel) != 0)
        FAIL("%s: unexpected event %s %s before the sentinel's", tag, type_name(e.type), e.path);
    OK(zoo_delete(zh, sentinel, -1));
    return 0;
}

/* ---- handles ---------------------------------------------------------------------------- */

static zhandle_t *open_handle(const char *hosts, const char *tag, int timeout_ms, const clientid_t *cid) {
    zhandle_t *zh = zookeeper_init(hosts, watcher, timeout_ms, cid, (void *)tag, 0);
    if (zh == NULL)
        return NULL;
    if (wait_state(tag, ZOO_CONNECTED_STATE) != 0) {
        zookeeper_close(zh);
        return NULL;
    }
    return zh;
}

#define CONNECT(var, hosts, tag, timeout)                                             \
    zhandle_t *var = open_handle((hosts), (tag), (timeout), NULL);                   \
    REQUIRE(var != NULL, "handle %s could not connect to %s within %ds", tag, hosts, WAIT_S)

static zhandle_t *zk, *other;

/* ---- async completions ---------------------------------------------------------------- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, rc;
    char value[512];
} waiter_t;

static void waiter_init(waiter_t *w) {
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->done = 0;
    w->rc = -999;
    w->value[0] = 0;
}

static void void_done(int rc, const void *data) {
    waiter_t *w = (waiter_t *)data;
    pthread_mutex_lock(&w->mu);
    w->rc = rc;
    w->done = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void string_done(int rc, const char *value, const void *data) {
    waiter_t *w = (waiter_t *)data;
    pthread_mutex_lock(&w->mu);
    snprintf(w->value, sizeof w->value, "%s", value ? value : "");
    w->rc = rc;
    w->done = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static int waiter_wait(waiter_t *w) {
    struct timespec ts;
    deadline_in(&ts, WAIT_S);
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) == ETIMEDOUT)
            break;
    int done = w->done;
    pthread_mutex_unlock(&w->mu);
    return done ? 0 : -1;
}

static int add_auth(zhandle_t *zh, const char *scheme, const char *cred) {
    waiter_t w;
    waiter_init(&w);
    int rc = zoo_add_auth(zh, scheme, cred, (int)strlen(cred), void_done, &w);
    if (rc != ZOK)
        return rc;
    if (waiter_wait(&w) != 0)
        return -998;
    return w.rc;
}

/* ---- the proxy ------------------------------------------------------------------------- */

static int proxy(const char *cmd, char *answer, size_t n) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)CONTROL_PORT);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        close(s);
        return -1;
    }
    char line[64];
    snprintf(line, sizeof line, "%s\n", cmd);
    if (write(s, line, strlen(line)) != (ssize_t)strlen(line)) {
        close(s);
        return -1;
    }
    size_t got = 0;
    while (got + 1 < n) {
        ssize_t r = read(s, answer + got, 1);
        if (r <= 0 || answer[got] == '\n')
            break;
        got++;
    }
    answer[got] = 0;
    close(s);
    return strncmp(answer, "ok", 2) == 0 ? 0 : -1;
}

/* ---- the checks ----------------------------------------------------------------------- */

static int check_connect_session(void) {
    const clientid_t *id = zoo_client_id(zk);
    REQUIRE(id->client_id != 0, "session id is 0");
    RC(zoo_recv_timeout(zk), 10000);
    REQUIRE(zoo_state(zk) == ZOO_CONNECTED_STATE, "state %d", zoo_state(zk));
    REQUIRE(zoo_client_id(other)->client_id != id->client_id, "two handles share a session");
    CONNECT(small, HOSTS, "small", 1000);
    RC(zoo_recv_timeout(small), 4000); /* raised to minSessionTimeout */
    zookeeper_close(small);
    return 0;
}

static int check_crud_and_stat(void) {
    char p[512], buf[512], created[512];
    int len;
    struct Stat st, st2;
    path_join(p, sizeof p, BASE, "crud");
    OK(zoo_create(zk, p, "v0", 2, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, created, sizeof created));
    STREQ(p, created, "created path");
    len = sizeof buf;
    OK(zoo_get(zk, p, 0, buf, &len, &st));
    REQUIRE(len == 2 && memcmp(buf, "v0", 2) == 0, "data <%.*s>", len, buf);
    REQUIRE(st.version == 0 && st.dataLength == 2 && st.numChildren == 0, "stat version %d dataLength %d",
            st.version, st.dataLength);
    REQUIRE(st.czxid == st.mzxid && st.czxid == st.pzxid && st.ctime == st.mtime, "fresh stat zxids/times");
    OK(zoo_set2(zk, p, "v1", 2, 0, &st2));
    REQUIRE(st2.version == 1 && st2.mzxid > st.mzxid && st2.czxid == st.czxid, "stat after set");
    RC(zoo_set(zk, p, "x", 1, 0), ZBADVERSION);
    OK(zoo_exists(zk, p, 0, &st));
    REQUIRE(st.mzxid == st2.mzxid && st.version == 1, "exists stat");
    struct String_vector kids;
    OK(zoo_get_children(zk, BASE, 0, &kids));
    int found = 0;
    for (int i = 0; i < kids.count; i++)
        found |= strcmp(kids.data[i], "crud") == 0;
    deallocate_String_vector(&kids);
    REQUIRE(found, "child not listed");
    RC(zoo_delete(zk, p, 7), ZBADVERSION);
    OK(zoo_delete(zk, p, 1));
    RC(zoo_exists(zk, p, 0, &st), ZNONODE);
    len = sizeof buf;
    RC(zoo_get(zk, p, 0, buf, &len, &st), ZNONODE);
    /* null data: a create with valuelen -1 reads back as length -1 */
    OK(zoo_create(zk, p, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0));
    len = sizeof buf;
    OK(zoo_get(zk, p, 0, buf, &len, &st));
    RC(len, -1);
    return 0;
}

static int check_create_errors(void) {
    char p[512], q[512];
    path_join(p, sizeof p, BASE, "errs");
    OK(zoo_create(zk, p, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0));
    RC(zoo_create(zk, p, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0), ZNODEEXISTS);
    snprintf(q, sizeof q, "%s/missing/child", p);
    RC(zoo_create(zk, q, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0), ZNONODE);
    snprintf(q, sizeof q, "%s/eph", p);
    OK(zoo_create(zk, q, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0));
    RC(zoo_delete(zk, p, -1), ZNOTEMPTY);
    snprintf(q, sizeof q, "%s/eph/kid", p);
    RC(zoo_create(zk, q, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0), ZNOCHILDRENFOREPHEMERALS);
    RC(zoo_set(zk, "/no/such/node", "x", 1, -1), ZNONODE);
    RC(zoo_create(zk, "relative", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0), ZBADARGUMENTS);
    return 0;
}

static int check_create2_and_children2(void) {
    char p[512], q[512];
    struct Stat st, last, parent;
    path_join(p, sizeof p, BASE, "c2");
    OK(zoo_create(zk, p, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0));
    snprintf(q, sizeof q, "%s/a", p);
    OK(zoo_create2(zk, q, "abc", 3, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0, &st));
    REQUIRE(st.czxid > 0 && st.dataLength == 3 && st.version == 0, "create2 stat");
    snprintf(q, sizeof q, "%s/b", p);
    OK(zoo_create2(zk, q, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0, &last));
    struct String_vector kids;
    OK(zoo_get_children2(zk, p, 0, &kids, &parent));
    RC(kids.count, 2);
    deallocate_String_vector(&kids);
    RC(parent.numChildren, 2);
    RC(parent.cversion, 2);
    REQUIRE(parent.pzxid == last.czxid, "pzxid %lld, last child's czxid %lld", (long long)parent.pzxid,
            (long long)last.czxid);
    return 0;
}

static int check_sequential_and_ephemeral(void) {
    char p[512], q[512], got[512], want[512];
    struct Stat st;
    path_join(p, sizeof p, BASE, "seq");
    OK(zoo_create(zk, p, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0));
    snprintf(q, sizeof q, "%s/s-", p);
    for (int i = 0; i < 3; i++) {
        OK(zoo_create(zk, q, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT_SEQUENTIAL, got, sizeof got));
        snprintf(want, sizeof want, "%s/s-%010d", p, i);
        STREQ(want, got, "sequential name");
    }
    CONNECT(owner, HOSTS, "owner", 10000);
    snprintf(q, sizeof q, "%s/e-", p);
    OK(zoo_create(owner, q, "x", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL_SEQUENTIAL, got, sizeof got));
    snprintf(want, sizeof want, "%s/e-%010d", p, 3);
    STREQ(want, got, "ephemeral sequential name");
    OK(zoo_exists(zk, got, 0, &st));
    REQUIRE(st.ephemeralOwner == zoo_client_id(owner)->client_id, "ephemeralOwner %llx",
            (long long)st.ephemeralOwner);
    RC(zoo_wexists(zk, got, watcher, "eph-watch", &st), ZOK);
    zookeeper_close(owner);
    CALL(expect_event("eph-watch", ZOO_DELETED_EVENT, got));
    RC(zoo_exists(zk, got, 0, &st), ZNONODE);
    return 0;
}

static int check_watches(void) {
    char p[512], q[512], buf[64];
    int len = sizeof buf;
    struct Stat st;
    struct String_vector kids;
    path_join(p, sizeof p, BASE, "watch");
    snprintf(q, sizeof q, "%s/new", p);
    OK(zoo_create(zk, p, "0", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0));
    OK(zoo_wget(zk, p, watcher, "w-data", buf, &len, &st));
    OK(zoo_wget_children(zk, p, watcher, "w-child", &kids));
    deallocate_String_vector(&kids);
    RC(zoo_wexists(zk, q, watcher, "w-exist", &st), ZNONODE);
    len = sizeof buf;
    OK(zoo_get(zk, p, 1, buf, &len, &st)); /* the handle's own watcher: tag "main" */
    OK(zoo_set(other, p, "1", 1, -1));
    CALL(expect_event("w-data", ZOO_CHANGED_EVENT, p));
    CALL(expect_event("main", ZOO_CHANGED_EVENT, p));
    OK(zoo_set(other, p, "2", 1, -1)); /* one-shot: nothing more */
    OK(zoo_create(other, q, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0));
    CALL(expect_event("w-exist", ZOO_CREATED_EVENT, q));
    CALL(expect_event("w-child", ZOO_CHILD_EVENT, p));
    len = sizeof buf;
    OK(zoo_wget(zk, q, watcher, "w-data", buf, &len, &st));
    OK(zoo_delete(other, q, -1));
    CALL(expect_event("w-data", ZOO_DELETED_EVENT, q));
    CALL(expect_quiet(zk, "w-data"));
    CALL(expect_quiet(zk, "w-child"));
    CALL(expect_quiet(zk, "w-exist"));
    CALL(expect_quiet(zk, "main"));
    return 0;
}

static int check_watches_survive_reconnect(void) {
    char p[512], d[512], m[512], c[512], ck[512], g[512], u[512], answer[64], buf[64];
    int len;
    struct Stat st;
    struct String_vector kids;
    path_join(p, sizeof p, BASE, "reconnect");
    snprintf(d, sizeof d, "%s/d", p);
    snprintf(m, sizeof m, "%s/m", p);
    snprintf(c, sizeof c, "%s/c", p);
    snprintf(ck, sizeof ck, "%s/c/kid", p);
    snprintf(g, sizeof g, "%s/g", p);
    snprintf(u, sizeof u, "%s/u", p);
    OK(zoo_create(zk, p, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0));
    const char *nodes[] = {d, c, g, u};
    for (int i = 0; i < 4; i++)
        OK(zoo_create(zk, nodes[i], "0", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0));
    CONNECT(pz, PROXY_HOSTS, "proxied", 10000);
    int64_t session = zoo_client_id(pz)->client_id;
    len = sizeof buf;
    OK(zoo_wget(pz, d, watcher, "rw", buf, &len, &st));
    RC(zoo_wexists(pz, m, watcher, "rw", &st), ZNONODE);
    OK(zoo_wget_children(pz, c, watcher, "rw", &kids));
    deallocate_String_vector(&kids);
    len = sizeof buf;
    OK(zoo_wget(pz, g, watcher, "rw", buf, &len, &st));
    len = sizeof buf;
    OK(zoo_wget(pz, u, watcher, "rw", buf, &len, &st));
    REQUIRE(proxy("hold", answer, sizeof answer) == 0, "proxy hold: %s", answer);
    REQUIRE(proxy("cut", answer, sizeof answer) == 0 && strcmp(answer, "ok 0") != 0, "proxy cut: %s", answer);
    REQUIRE(wait_state("proxied", ZOO_CONNECTING_STATE) == 0, "no CONNECTING state after the cut");
    OK(zoo_set(zk, d, "1", 1, -1));
    OK(zoo_create(zk, m, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0));
    OK(zoo_create(zk, ck, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0));
    OK(zoo_delete(zk, g, -1));
    REQUIRE(proxy("release", answer, sizeof answer) == 0, "proxy release: %s", answer);
    REQUIRE(wait_state("proxied", ZOO_CONNECTED_STATE) == 0, "not reconnected within %ds", WAIT_S);
    REQUIRE(zoo_client_id(pz)->client_id == session, "session changed across the reconnect");
    int seen[4] = {0, 0, 0, 0};
    for (int i = 0; i < 4; i++) {
        event_t e;
        REQUIRE(next_event("rw", &e) == 0, "only %d of 4 missed events arrived", i);
        if (e.type == ZOO_CHANGED_EVENT && strcmp(e.path, d) == 0) seen[0]++;
        else if (e.type == ZOO_CREATED_EVENT && strcmp(e.path, m) == 0) seen[1]++;
        else if (e.type == ZOO_CHILD_EVENT && strcmp(e.path, c) == 0) seen[2]++;
        else if (e.type == ZOO_DELETED_EVENT && strcmp(e.path, g) == 0) seen[3]++;
        else FAIL("unexpected event %s %s after the reconnect", type_name(e.type), e.path);
    }
    REQUIRE(seen[0] == 1 && seen[1] == 1 && seen[2] == 1 && seen[3] == 1, "missed events %d %d %d %d", seen[0],
            seen[1], seen[2], seen[3]);
    CALL(expect_quiet(pz, "rw"));
    OK(zoo_set(zk, u, "1", 1, -1)); /* the untouched watch was re-registered */
    CALL(expect_event("rw", ZOO_CHANGED_EVENT, u));
    zookeeper_close(pz);
    return 0;
}

static int check_multi(void) {
    char p[512], a[512], b[512], s[512], cpath[512], pathbuf[3][512], buf[64];
    struct Stat st;
    path_join(p, sizeof p, BASE, "multi");
    snprintf(a, sizeof a, "%s/a", p);
    snprintf(b, sizeof b, "%s/b", p);
    snprintf(s, sizeof s, "%s/s-", p);
    snprintf(cpath, sizeof cpath, "%s/c", p);
    OK(zoo_create(zk, p, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0));
    zoo_op_t ops[6];
    zoo_op_result_t res[6];
    struct Stat setstat;
    zoo_create_op_init(&ops[0], a, "a", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, pathbuf[0], sizeof pathbuf[0]);
    zoo_create_op_init(&ops[1], b, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, pathbuf[1], sizeof pathbuf[1]);
    zoo_set_op_init(&ops[2], a, "a1", 2, 0, &setstat);
    zoo_check_op_init(&ops[3], b, 0);
    zoo_delete_op_init(&ops[4], b, 0);
    zoo_create_op_init(&ops[5], s, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT_SEQUENTIAL, pathbuf[2],
                       sizeof pathbuf[2]);
    OK(zoo_multi(zk, 6, ops, res));
    for (int i = 0; i < 6; i++)
        REQUIRE(res[i].err == ZOK, "result %d: %d", i, res[i].err);
    STREQ(a, pathbuf[0], "create result path");
    RC(setstat.version, 1);
    char want[512];
    snprintf(want, sizeof want, "%s/s-%010d", p, 2); /* 2 creations before it (a delete doesn't count) */
    STREQ(want, pathbuf[2], "sequential in multi");
    OK(zoo_exists(zk, want, 0, &st));
    REQUIRE(st.czxid == setstat.mzxid, "one zxid for the whole multi");
    RC(zoo_exists(zk, b, 0, &st), ZNONODE);

    zoo_op_t bad[3];
    zoo_op_result_t bres[3];
    zoo_create_op_init(&bad[0], cpath, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0);
    zoo_check_op_init(&bad[1], a, 99);
    zoo_set_op_init(&bad[2], a, "never", 5, -1, NULL);
    RC(zoo_multi(zk, 3, bad, bres), ZBADVERSION);
    RC(bres[0].err, ZOK);
    RC(bres[1].err, ZBADVERSION);
    RC(bres[2].err, ZRUNTIMEINCONSISTENCY);
    RC(zoo_exists(zk, cpath, 0, &st), ZNONODE);
    int len = sizeof buf;
    OK(zoo_get(zk, a, 0, buf, &len, &st));
    REQUIRE(len == 2 && memcmp(buf, "a1", 2) == 0, "data after a failed multi <%.*s>", len, buf);
    return 0;
}

static int check_acl_digest_and_auth(void) {
    char p[512], mine[512], kid[512], buf[64];
    int len;
    struct Stat st;
    struct ACL_vector acl;
    path_join(p, sizeof p, BASE, "acl");
    snprintf(mine, sizeof mine, "%s/mine", p);
    snprintf(kid, sizeof kid, "%s/mine/kid", p);
    OK(zoo_create(zk, p, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0));
    RC(zoo_create(zk, mine, NULL, -1, &ZOO_CREATOR_ALL_ACL, ZOO_PERSISTENT, NULL, 0), ZINVALIDACL);
    CONNECT(alice, HOSTS, "alice", 10000);
    OK(add_auth(alice, "digest", "alice:secret"));
    OK(zoo_create(alice, mine, "private", 7, &ZOO_CREATOR_ALL_ACL, ZOO_PERSISTENT, NULL, 0));
    OK(zoo_get_acl(alice, mine, &acl, &st));
    RC(acl.count, 1);
    RC(acl.data[0].perms, ZOO_PERM_ALL);
    STREQ("digest", acl.data[0].id.scheme, "ACL scheme");
    /* DigestAuthenticationProvider: user:base64(sha1(user:password)) */
    STREQ("alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=", acl.data[0].id.id, "ACL id");
    deallocate_ACL_vector(&acl);
    RC(st.aversion, 0);
    len = sizeof buf;
    RC(zoo_get(zk, mine, 0, buf, &len, &st), ZNOAUTH);
    RC(zoo_get_acl(zk, mine, &acl, &st), ZNOAUTH);
    CONNECT(mallory, HOSTS, "mallory", 10000);
    OK(add_auth(mallory, "digest", "alice:wrong"));
    len = sizeof buf;
    RC(zoo_get(mallory, mine, 0, buf, &len, &st), ZNOAUTH);
    struct ACL world_read_and_alice[2];
    struct ACL_vector wr = {2, world_read_and_alice};
    world_read_and_alice[0].perms = ZOO_PERM_READ;
    world_read_and_alice[0].id.scheme = "world";
    world_read_and_alice[0].id.id = "anyone";
    world_read_and_alice[1].perms = ZOO_PERM_ALL;
    world_read_and_alice[1].id.scheme = "digest";
    world_read_and_alice[1].id.id = "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=";
    RC(zoo_set_acl(alice, mine, 5, &wr), ZBADVERSION);
    OK(zoo_set_acl(alice, mine, 0, &wr));
    len = sizeof buf;
    OK(zoo_get(mallory, mine, 0, buf, &len, &st));
    REQUIRE(len == 7 && memcmp(buf, "private", 7) == 0, "world-readable data");
    RC(st.aversion, 1);
    RC(zoo_set(mallory, mine, "x", 1, -1), ZNOAUTH);
    RC(zoo_create(mallory, kid, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0), ZNOAUTH);
    OK(zoo_create(alice, kid, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0));
    RC(zoo_delete(mallory, kid, -1), ZNOAUTH);
    CONNECT(root, HOSTS, "super", 10000);
    OK(add_auth(root, "digest", SUPER_AUTH));
    OK(zoo_set_acl(alice, mine, -1, &ZOO_CREATOR_ALL_ACL));
    len = sizeof buf;
    OK(zoo_get(root, mine, 0, buf, &len, &st)); /* super reads anything */
    OK(zoo_delete(root, kid, -1));
    zookeeper_close(alice);
    zookeeper_close(mallory);
    zookeeper_close(root);
    return 0;
}

static int check_acl_ip_and_world(void) {
    char p[512], q[512], buf[64];
    int len;
    struct Stat st;
    struct ACL one;
    struct ACL_vector v = {1, &one};
    path_join(p, sizeof p, BASE, "ipacl");
    OK(zoo_create(zk, p, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0));
    one.perms = ZOO_PERM_ALL;
    one.id.scheme = "ip";
    one.id.id = "127.0.0.1";
    snprintf(q, sizeof q, "%s/lo", p);
    OK(zoo_create(zk, q, "lo", 2, &v, ZOO_PERSISTENT, NULL, 0));
    len = sizeof buf;
    OK(zoo_get(other, q, 0, buf, &len, &st));
    one.id.id = "10.1.2.3";
    snprintf(q, sizeof q, "%s/far", p);
    OK(zoo_create(zk, q, "far", 3, &v, ZOO_PERSISTENT, NULL, 0));
    len = sizeof buf;
    RC(zoo_get(other, q, 0, buf, &len, &st), ZNOAUTH);
    snprintf(q, sizeof q, "%s/ro", p);
    OK(zoo_create(zk, q, "ro", 2, &ZOO_READ_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0));
    len = sizeof buf;
    OK(zoo_get(other, q, 0, buf, &len, &st));
    RC(zoo_set(other, q, "x", 1, -1), ZNOAUTH);
    return 0;
}

static int check_auth_failed_state(void) {
    CONNECT(h, HOSTS, "badauth", 10000);
    RC(add_auth(h, "nosuchscheme", "x"), ZAUTHFAILED);
    REQUIRE(wait_state("badauth", ZOO_AUTH_FAILED_STATE) == 0, "no AUTH_FAILED state");
    zookeeper_close(h);
    return 0;
}

static int check_remove_watches(void) {
    char p[512], buf[64];
    int len = sizeof buf;
    struct Stat st;
    path_join(p, sizeof p, BASE, "rmw");
    OK(zoo_create(zk, p, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0));
    OK(zoo_wget(zk, p, watcher, "rm1", buf, &len, &st));
    len = sizeof buf;
    OK(zoo_wget(zk, p, watcher, "rm2", buf, &len, &st));
    /* checkWatches then removeWatches on the wire (the C client does not notify the removed watcher) */
    OK(zoo_remove_watches(zk, p, ZWATCHTYPE_DATA, watcher, "rm1", 0));
    RC(zoo_remove_watches(zk, p, ZWATCHTYPE_DATA, watcher, "rm1", 0), ZNOWATCHER);
    OK(zoo_set(other, p, "1", 1, -1));
    CALL(expect_event("rm2", ZOO_CHANGED_EVENT, p));
    CALL(expect_quiet(zk, "rm1"));
    struct String_vector kids;
    OK(zoo_wget_children(zk, p, watcher, "rm3", &kids));
    deallocate_String_vector(&kids);
    OK(zoo_remove_all_watches(zk, p, ZWATCHTYPE_ANY, 0));
    RC(zoo_remove_all_watches(zk, p, ZWATCHTYPE_ANY, 0), ZNOWATCHER);
    char k[512];
    snprintf(k, sizeof k, "%s/kid", p);
    OK(zoo_create(other, k, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0));
    CALL(expect_quiet(zk, "rm3"));
    return 0;
}

#define NASYNC 200
static int order_log[NASYNC * 2], order_rc[NASYNC * 2], order_n;
static pthread_mutex_t order_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t order_cv = PTHREAD_COND_INITIALIZER;

static void order_string(int rc, const char *value, const void *data) {
    (void)value;
    pthread_mutex_lock(&order_mu);
    order_rc[order_n] = rc;
    order_log[order_n++] = (int)(intptr_t)data;
    pthread_cond_broadcast(&order_cv);
    pthread_mutex_unlock(&order_mu);
}

static void order_data(int rc, const char *value, int len, const struct Stat *st, const void *data) {
    (void)value, (void)len, (void)st;
    order_string(rc, NULL, data);
}

static int check_async_order(void) {
    char p[512], q[512];
    path_join(p, sizeof p, BASE, "pipe");
    OK(zoo_create(zk, p, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0));
    order_n = 0;
    for (int i = 0; i < NASYNC; i++) {
        snprintf(q, sizeof q, "%s/n%d", p, i);
        OK(zoo_acreate(zk, q, "x", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, order_string, (void *)(intptr_t)(2 * i)));
        OK(zoo_aget(zk, q, 0, order_data, (void *)(intptr_t)(2 * i + 1)));
    }
    struct timespec ts;
    deadline_in(&ts, WAIT_S);
    pthread_mutex_lock(&order_mu);
    while (order_n < 2 * NASYNC)
        if (pthread_cond_timedwait(&order_cv, &order_mu, &ts) == ETIMEDOUT)
            break;
    int n = order_n;
    pthread_mutex_unlock(&order_mu);
    REQUIRE(n == 2 * NASYNC, "%d of %d completions", n, 2 * NASYNC);
    for (int i = 0; i < n; i++) {
        REQUIRE(order_log[i] == i, "completion %d was request %d", i, order_log[i]);
        REQUIRE(order_rc[i] == ZOK, "completion %d rc %d", i, order_rc[i]);
    }
    return 0;
}

static int check_chroot(void) {
    char root[512], hosts[1024], got[512], buf[64];
    int len = sizeof buf;
    struct Stat st;
    path_join(root, sizeof root, BASE, "chroot");
    OK(zoo_create(zk, root, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0));
    snprintf(hosts, sizeof hosts, "%s%s", HOSTS, root);
    CONNECT(c, hosts, "chroot", 10000);
    OK(zoo_create(c, "/x", "in", 2, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, got, sizeof got));
    STREQ("/x", got, "created path in a chroot");
    OK(zoo_create(c, "/s", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT_SEQUENTIAL, got, sizeof got));
    STREQ("/s0000000001", got, "sequential path in a chroot");
    OK(zoo_wget(c, "/x", watcher, "chroot-w", buf, &len, &st));
    char x[512];
    snprintf(x, sizeof x, "%s/x", root);
    OK(zoo_set(zk, x, "out", 3, -1));
    CALL(expect_event("chroot-w", ZOO_CHANGED_EVENT, "/x"));
    zookeeper_close(c);
    return 0;
}

static int check_sync_and_getconfig(void) {
    waiter_t w;
    waiter_init(&w);
    OK(zoo_async(zk, BASE, string_done, &w));
    REQUIRE(waiter_wait(&w) == 0, "sync did not complete");
    RC(w.rc, ZOK);
    STREQ(BASE, w.value, "sync path");
    char buf[1024];
    int len = sizeof buf;
    struct Stat st;
    OK(zoo_getconfig(zk, 0, buf, &len, &st));
    return 0;
}

static int check_ttl_and_container_create(void) {
    char p[512], got[512];
    struct Stat st;
    path_join(p, sizeof p, BASE, "ttl");
    OK(zoo_create2_ttl(zk, p, "t", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT_WITH_TTL, 60000, got, sizeof got, &st));
    STREQ(p, got, "TTL node path");
    REQUIRE(st.ephemeralOwner == 0, "a TTL node shows ephemeralOwner 0, got %llx", (long long)st.ephemeralOwner);
    path_join(p, sizeof p, BASE, "ttlseq-");
    OK(zoo_create2_ttl(zk, p, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT_SEQUENTIAL_WITH_TTL, 60000, got,
                       sizeof got, &st));
    REQUIRE(strlen(got) == strlen(p) + 10, "sequential TTL name %s", got);
    path_join(p, sizeof p, BASE, "container");
    OK(zoo_create2(zk, p, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_CONTAINER, got, sizeof got, &st));
    REQUIRE(st.ephemeralOwner == 0, "a container shows ephemeralOwner 0, got %llx", (long long)st.ephemeralOwner);
    return 0;
}

/*
 * A partition longer than the session: the handle is cut off behind the proxy, the session is
 * ended meanwhile (attach to it with its id and password, then close), and when the handle gets
 * through again the server tells it the session expired.
 */
static int check_session_expiry(void) {
    char p[512], answer[64];
    struct Stat st;
    path_join(p, sizeof p, BASE, "doomed-eph");
    CONNECT(doomed, PROXY_HOSTS, "doomed", 6000);
    OK(zoo_create(doomed, p, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0));
    RC(zoo_wexists(zk, p, watcher, "doomed-observer", &st), ZOK);
    clientid_t id = *zoo_client_id(doomed);
    REQUIRE(proxy("hold", answer, sizeof answer) == 0, "proxy hold: %s", answer);
    REQUIRE(proxy("cut", answer, sizeof answer) == 0 && strcmp(answer, "ok 0") != 0, "proxy cut: %s", answer);
    REQUIRE(wait_state("doomed", ZOO_CONNECTING_STATE) == 0, "no CONNECTING state after the cut");
    zhandle_t *twin = open_handle(HOSTS, "twin", 6000, &id);
    REQUIRE(twin != NULL, "could not attach to the session");
    REQUIRE(zoo_client_id(twin)->client_id == id.client_id, "the twin got another session");
    zookeeper_close(twin); /* closes the shared session */
    CALL(expect_event("doomed-observer", ZOO_DELETED_EVENT, p));
    REQUIRE(proxy("release", answer, sizeof answer) == 0, "proxy release: %s", answer);
    REQUIRE(wait_state("doomed", ZOO_EXPIRED_SESSION_STATE) == 0, "the first handle never heard of the expiry");
    RC(zoo_exists(doomed, p, 0, &st), ZINVALIDSTATE);
    zookeeper_close(doomed);
    return 0;
}

static int create_base(void) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", BASE);
    for (char *s = buf + 1;; s++) {
        if (*s == '/' || *s == 0) {
            char c = *s;
            *s = 0;
            int rc = zoo_create(zk, buf, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0);
            if (rc != ZOK && rc != ZNODEEXISTS)
                return rc;
            *s = c;
            if (!c)
                break;
        }
    }
    return ZOK;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s hosts proxyHosts proxyControlPort basePath superUser:password\n", argv[0]);
        return 2;
    }
    HOSTS = argv[1];
    PROXY_HOSTS = argv[2];
    CONTROL_PORT = atoi(argv[3]);
    BASE = argv[4];
    SUPER_AUTH = argv[5];
    zoo_set_debug_level(ZOO_LOG_LEVEL_WARN);
    printf("VERSION %s\n", ZOO_VERSION);
    zk = open_handle(HOSTS, "main", 10000, NULL);
    other = open_handle(HOSTS, "other", 10000, NULL);
    if (zk == NULL || other == NULL || create_base() != ZOK) {
        printf("cannot connect to %s or create %s\n", HOSTS, BASE);
        return 1;
    }
    run("connect_session", check_connect_session);
    run("crud_and_stat", check_crud_and_stat);
    run("create_errors", check_create_errors);
    run("create2_and_children2", check_create2_and_children2);
    run("sequential_and_ephemeral", check_sequential_and_ephemeral);
    run("watches", check_watches);
    run("watches_survive_reconnect", check_watches_survive_reconnect);
    run("multi", check_multi);
    run("acl_digest_and_auth", check_acl_digest_and_auth);
    run("acl_ip_and_world", check_acl_ip_and_world);
    run("auth_failed_state", check_auth_failed_state);
    run("remove_watches", check_remove_watches);
    run("async_order", check_async_order);
    run("chroot", check_chroot);
    run("sync_and_getconfig", check_sync_and_getconfig);
    run("ttl_and_container_create", check_ttl_and_container_create);
    run("session_expiry", check_session_expiry);
    zookeeper_close(other);
    zookeeper_close(zk);
    return failures ? 1 : 0;
}
