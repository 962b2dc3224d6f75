// node-zookeeper-client (npm), unmodified, against the server: one
// "CHECK name PASS|FAIL reason" line per feature.
//
// Usage: node checks.js hosts proxyHosts proxyControlPort basePath superUser:password
'use strict';

const net = require('net');
const zookeeper = require('node-zookeeper-client');

const { ACL, Id, Permission, CreateMode, Event, Exception } = zookeeper;
const WAIT_MS = 15000;
const OPEN = ACL.OPEN_ACL_UNSAFE;

const [hosts, proxyHosts, controlPort, base, superAuth] = process.argv.slice(2);
if (!superAuth) {
    console.error('usage: node checks.js hosts proxyHosts proxyControlPort basePath superUser:password');
    process.exit(2);
}

let failures = 0;

async function check(name, body) {
    try {
        await body();
        console.log(`CHECK ${name} PASS`);
    } catch (e) {
        failures += 1;
        console.error(`=== check ${name} failed:`, e);
        console.log(`CHECK ${name} FAIL ${String(e && e.message || e).replace(/\s+/g, ' ')}`);
    }
}

function expect(cond, msg) {
    if (!cond) {
        throw new Error(msg);
    }
}

function eq(want, got, what) {
    const w = JSON.stringify(want);
    const g = JSON.stringify(got);
    expect(w === g, `${what}: expected <${w}> got <${g}>`);
}

function within(promise, what) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: nothing within ${WAIT_MS} ms`)), WAIT_MS);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// promisified calls: resolve with the callback's results, reject with its error
function call(client, method, ...args) {
    return new Promise((resolve, reject) => {
        client[method](...args, (error, ...results) => (error ? reject(error) : resolve(results)));
    });
}

async function raises(code, what, promise) {
    try {
        await promise;
    } catch (e) {
        expect(e.getCode && e.getCode() === code, `${what}: expected error ${code}, got ${e}`);
        return;
    }
    throw new Error(`${what}: expected error ${code}, nothing was thrown`);
}

function longHex(buf) {
    return Buffer.from(buf).toString('hex');
}

// A queue of watch notifications (for one watcher function) and of the client's state changes.
class Events {
    constructor(name) {
        this.name = name;
        this.items = [];
        this.waiters = [];
        this.watcher = (event) => this.push(`${event.getName()} ${event.getPath()}`);
    }

    push(item) {
        this.items.push(item);
        this.waiters.splice(0).forEach((w) => w());
    }

    async next(what) {
        while (this.items.length === 0) {
            await within(new Promise((resolve) => this.waiters.push(resolve)), `${this.name}: ${what}`);
        }
        return this.items.shift();
    }

    async take(n, what) {
        const out = [];
        for (let i = 0; i < n; i += 1) {
            out.push(await this.next(`${what} (have ${JSON.stringify(out)})`));
        }
        return out;
    }

    async expectNext(item) {
        eq(item, await this.next(item), `${this.name}: next event`);
    }

    // No other notification is pending: watch a fresh sentinel and create it; a session's
    // notifications arrive in transaction order, so the sentinel's must come next.
    async quiet(client) {
        const sentinel = `${base}/sentinel-${process.hrtime.bigint()}`;
        await call(client, 'exists', sentinel, this.watcher);
        await call(client, 'create', sentinel);
        eq(`NODE_CREATED ${sentinel}`, await this.next('the sentinel'), `${this.name}: next event`);
        await call(client, 'remove', sentinel, -1);
    }
}

const clients = [];

// A connected client whose state changes go to `events`.
function connect(connectionString, options, events) {
    const client = zookeeper.createClient(connectionString, { sessionTimeout: 10000, spinDelay: 100, ...options });
    clients.push(client);
    if (events) {
        client.on('state', (state) => events.push(`STATE ${state.getName()}`));
    }
    return within(new Promise((resolve, reject) => {
        client.once('connected', () => resolve(client));
        client.once('expired', () => reject(new Error('session expired while connecting')));
        client.once('authenticationFailed', () => reject(new Error('authentication failed while connecting')));
        client.connect();
    }), `connect to ${connectionString}`);
}

async function awaitState(events, name) {
    for (;;) {
        const item = await events.next(`state ${name}`);
        if (item === `STATE ${name}`) {
            return;
        }
        expect(item.startsWith('STATE '), `${events.name}: notification ${item} while waiting for ${name}`);
    }
}

function proxy(command) {
    return within(new Promise((resolve, reject) => {
        const socket = net.connect(Number(controlPort), '127.0.0.1', () => socket.write(`${command}\n`));
        let answer = '';
        socket.on('data', (d) => {
            answer += d.toString();
            if (answer.includes('\n')) {
                socket.end();
                answer = answer.trim();
                if (answer.startsWith('ok')) {
                    resolve(answer);
                } else {
                    reject(new Error(`proxy answered ${answer} to ${command}`));
                }
            }
        });
        socket.on('error', reject);
    }), `proxy ${command}`);
}

async function holdAndCut() {
    await proxy('hold');
    expect((await proxy('cut')) !== 'ok 0', 'the proxy had no connection to cut');
}

async function main() {
    const mainEvents = new Events('main');
    const zk = await connect(hosts, {}, null);
    const other = await connect(hosts, {}, null);
    await call(zk, 'mkdirp', base);

    await check('connect_session', async () => {
        expect(longHex(zk.getSessionId()) !== '0000000000000000', 'session id is 0');
        expect(longHex(zk.getSessionId()) !== longHex(other.getSessionId()), 'two clients share a session');
        eq(10000, zk.getSessionTimeout(), 'negotiated session timeout');
        eq(16, zk.getSessionPassword().length, 'session password length');
        const small = await connect(hosts, { sessionTimeout: 1000 }, null);
        eq(4000, small.getSessionTimeout(), 'timeout raised to minSessionTimeout');
        small.close();
    });

    await check('crud_and_stat', async () => {
        const p = `${base}/crud`;
        eq([p], await call(zk, 'create', p, Buffer.from('v0'), OPEN, CreateMode.PERSISTENT), 'create result');
        const [data, stat] = await call(zk, 'getData', p);
        eq('v0', data.toString(), 'data');
        eq(0, stat.version, 'version');
        eq(2, stat.dataLength, 'dataLength');
        eq(longHex(stat.czxid), longHex(stat.mzxid), 'mzxid of a new node');
        eq(longHex(stat.czxid), longHex(stat.pzxid), 'pzxid of a new node');
        const [set] = await call(zk, 'setData', p, Buffer.from('v1'), 0);
        eq(1, set.version, 'version after setData');
        expect(longHex(set.mzxid) > longHex(stat.mzxid), 'mzxid did not grow');
        await raises(Exception.BAD_VERSION, 'setData with a stale version', call(zk, 'setData', p, Buffer.from('x'), 0));
        const [ex] = await call(zk, 'exists', p);
        eq(longHex(set.mzxid), longHex(ex.mzxid), 'exists stat');
        const [kids] = await call(zk, 'getChildren', base);
        expect(kids.includes('crud'), 'child not listed');
        await raises(Exception.BAD_VERSION, 'remove with a wrong version', call(zk, 'remove', p, 5));
        await call(zk, 'remove', p, 1);
        eq([null], await call(zk, 'exists', p), 'exists after remove');
        await raises(Exception.NO_NODE, 'getData after remove', call(zk, 'getData', p));
    });

    await check('create_errors', async () => {
        const p = `${base}/errs`;
        await call(zk, 'create', p);
        await raises(Exception.NODE_EXISTS, 'create twice', call(zk, 'create', p));
        await raises(Exception.NO_NODE, 'create under a missing parent', call(zk, 'create', `${p}/missing/child`));
        await call(zk, 'create', `${p}/eph`, null, OPEN, CreateMode.EPHEMERAL);
        await raises(Exception.NOT_EMPTY, 'remove a parent', call(zk, 'remove', p, -1));
        await raises(Exception.NO_CHILDREN_FOR_EPHEMERALS, 'child of an ephemeral',
            call(zk, 'create', `${p}/eph/kid`));
        await raises(Exception.INVALID_ACL, 'auth ACL without auth',
            call(zk, 'create', `${p}/bad`, null, ACL.CREATOR_ALL_ACL, CreateMode.PERSISTENT));
    });

    await check('sequential_and_ephemeral', async () => {
        const p = `${base}/seq`;
        await call(zk, 'create', p);
        for (let i = 0; i < 3; i += 1) {
            const [got] = await call(zk, 'create', `${p}/s-`, null, OPEN, CreateMode.PERSISTENT_SEQUENTIAL);
            eq(`${p}/s-${String(i).padStart(10, '0')}`, got, 'sequential name');
        }
        const owner = await connect(hosts, {}, null);
        const [e] = await call(owner, 'create', `${p}/e-`, Buffer.from('x'), OPEN, CreateMode.EPHEMERAL_SEQUENTIAL);
        eq(`${p}/e-0000000003`, e, 'ephemeral sequential name');
        const [st] = await call(zk, 'exists', e);
        eq(longHex(owner.getSessionId()), longHex(st.ephemeralOwner), 'ephemeralOwner');
        const watch = new Events('eph');
        await call(zk, 'exists', e, watch.watcher);
        owner.close();
        await watch.expectNext(`NODE_DELETED ${e}`);
        const [kids] = await call(zk, 'getChildren', p);
        eq(['s-0000000000', 's-0000000001', 's-0000000002'], kids.sort(), 'children after close');
        await call(zk, 'mkdirp', `${p}/deep/er/path`, Buffer.from('d'), OPEN, CreateMode.PERSISTENT);
        eq('d', (await call(zk, 'getData', `${p}/deep/er/path`))[0].toString(), 'mkdirp leaf data');
    });

    await check('watches', async () => {
        const p = `${base}/watch`;
        const q = `${p}/new`;
        await call(zk, 'create', p, Buffer.from('0'));
        const data = new Events('data');
        const child = new Events('child');
        const exist = new Events('exist');
        await call(zk, 'getData', p, data.watcher);
        await call(zk, 'getChildren', p, child.watcher);
        await call(zk, 'exists', q, exist.watcher);
        await call(other, 'setData', p, Buffer.from('1'), -1);
        await data.expectNext(`NODE_DATA_CHANGED ${p}`);
        await call(other, 'setData', p, Buffer.from('2'), -1); // one-shot: no second event
        await call(other, 'create', q);
        await exist.expectNext(`NODE_CREATED ${q}`);
        await child.expectNext(`NODE_CHILDREN_CHANGED ${p}`);
        await call(zk, 'getData', q, data.watcher);
        await call(other, 'remove', q, -1);
        await data.expectNext(`NODE_DELETED ${q}`);
        await data.quiet(zk);
        await child.quiet(zk);
        await exist.quiet(zk);
    });

    await check('watches_survive_reconnect', async () => {
        const p = `${base}/reconnect`;
        await call(zk, 'create', p);
        for (const n of ['d', 'c', 'g', 'u']) {
            await call(zk, 'create', `${p}/${n}`, Buffer.from('0'));
        }
        const ev = new Events('proxied');
        const pz = await connect(proxyHosts, {}, ev);
        const session = longHex(pz.getSessionId());
        await call(pz, 'getData', `${p}/d`, ev.watcher);
        await call(pz, 'exists', `${p}/m`, ev.watcher);
        await call(pz, 'getChildren', `${p}/c`, ev.watcher);
        await call(pz, 'getData', `${p}/g`, ev.watcher);
        await call(pz, 'getData', `${p}/u`, ev.watcher);
        await holdAndCut();
        await awaitState(ev, 'DISCONNECTED');
        await call(zk, 'setData', `${p}/d`, Buffer.from('1'), -1);
        await call(zk, 'create', `${p}/m`);
        await call(zk, 'create', `${p}/c/kid`);
        await call(zk, 'remove', `${p}/g`, -1);
        await proxy('release');
        await awaitState(ev, 'SYNC_CONNECTED');
        eq(session, longHex(pz.getSessionId()), 'session id after reconnect');
        const got = (await ev.take(4, 'missed events')).sort();
        eq([`NODE_CHILDREN_CHANGED ${p}/c`, `NODE_CREATED ${p}/m`, `NODE_DATA_CHANGED ${p}/d`,
            `NODE_DELETED ${p}/g`].sort(), got, 'events missed while disconnected');
        await ev.quiet(pz);
        await call(zk, 'setData', `${p}/u`, Buffer.from('1'), -1); // re-registered, not fired
        await ev.expectNext(`NODE_DATA_CHANGED ${p}/u`);
        pz.close();
    });

    await check('transaction', async () => {
        const p = `${base}/tx`;
        await call(zk, 'create', p);
        const [results] = await new Promise((resolve, reject) => {
            zk.transaction()
                .create(`${p}/a`, Buffer.from('a'))
                .create(`${p}/b`)
                .setData(`${p}/a`, Buffer.from('a1'), 0)
                .check(`${p}/b`, 0)
                .remove(`${p}/b`, 0)
                .create(`${p}/s-`, null, OPEN, CreateMode.PERSISTENT_SEQUENTIAL)
                .commit((error, res) => (error ? reject(error) : resolve([res])));
        });
        eq(6, results.length, 'results');
        eq(`${p}/a`, results[0].path, 'create result');
        eq(1, results[2].stat.version, 'setData result');
        eq(`${p}/s-0000000002`, results[5].path, 'sequential in a transaction (creations count)');
        eq([null], await call(zk, 'exists', `${p}/b`), 'b removed');
        const failed = await new Promise((resolve) => {
            zk.transaction()
                .create(`${p}/c`)
                .check(`${p}/a`, 99)
                .setData(`${p}/a`, Buffer.from('never'), -1)
                .commit((error, res) => resolve([error, res]));
        });
        expect(failed[0] && failed[0].getCode() === Exception.BAD_VERSION, `failing transaction: ${failed[0]}`);
        eq([0, Exception.BAD_VERSION, Exception.RUNTIME_INCONSISTENCY], failed[1].map((r) => r.err),
            'failing transaction results');
        eq([null], await call(zk, 'exists', `${p}/c`), 'nothing of a failed transaction applied');
        eq('a1', (await call(zk, 'getData', `${p}/a`))[0].toString(), 'data untouched by a failed transaction');
    });

    await check('acl_digest_ip_and_auth', async () => {
        const p = `${base}/acl`;
        const mine = `${p}/mine`;
        await call(zk, 'create', p);
        const alice = await connect(hosts, {}, null);
        alice.addAuthInfo('digest', Buffer.from('alice:secret'));
        await call(alice, 'create', mine, Buffer.from('private'), ACL.CREATOR_ALL_ACL, CreateMode.PERSISTENT);
        const [acl, st] = await call(alice, 'getACL', mine);
        eq([{ perms: Permission.ALL, scheme: 'digest', id: 'alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=' }],
            acl.map((a) => ({ perms: a.permission, scheme: a.id.scheme, id: a.id.id })), 'stored ACL');
        eq(0, st.aversion, 'aversion');
        await raises(Exception.NO_AUTH, 'read without auth', call(zk, 'getData', mine));
        await raises(Exception.NO_AUTH, 'getACL without READ or ADMIN', call(zk, 'getACL', mine));
        const worldRead = [new ACL(Permission.READ, Id.ANYONE_ID_UNSAFE),
            new ACL(Permission.ALL, new Id('digest', 'alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E='))];
        await raises(Exception.BAD_VERSION, 'setACL with a stale aversion', call(alice, 'setACL', mine, worldRead, 4));
        const [after] = await call(alice, 'setACL', mine, worldRead, 0);
        eq(1, after.aversion, 'aversion after setACL');
        eq('private', (await call(other, 'getData', mine))[0].toString(), 'world-readable now');
        await raises(Exception.NO_AUTH, 'write without WRITE', call(other, 'setData', mine, Buffer.from('x'), -1));
        await call(zk, 'create', `${p}/lo`, null, [new ACL(Permission.ALL, new Id('ip', '127.0.0.1'))],
            CreateMode.PERSISTENT);
        await call(other, 'getData', `${p}/lo`);
        await call(zk, 'create', `${p}/far`, null, [new ACL(Permission.ALL, new Id('ip', '10.1.2.3'))],
            CreateMode.PERSISTENT);
        await raises(Exception.NO_AUTH, 'ip ACL of another address', call(other, 'getData', `${p}/far`));
        const root = await connect(hosts, {}, null);
        root.addAuthInfo('digest', Buffer.from(superAuth));
        await call(alice, 'setACL', mine, ACL.CREATOR_ALL_ACL, -1);
        eq('private', (await call(root, 'getData', mine))[0].toString(), 'super reads anything');
        alice.close();
        root.close();
    });

    await check('auth_failed', async () => {
        const ev = new Events('badauth');
        const c = await connect(hosts, {}, ev);
        c.addAuthInfo('nosuchscheme', Buffer.from('x'));
        await awaitState(ev, 'AUTH_FAILED');
        c.close();
    });

    await check('chroot', async () => {
        const root = `${base}/chroot`;
        await call(zk, 'create', root);
        const c = await connect(hosts + root, {}, null);
        eq(['/x'], await call(c, 'create', '/x', Buffer.from('in')), 'create in a chroot');
        eq(['/s0000000001'], await call(c, 'create', '/s', null, OPEN, CreateMode.PERSISTENT_SEQUENTIAL),
            'sequential in a chroot');
        eq('in', (await call(zk, 'getData', `${root}/x`))[0].toString(), 'node under the chroot');
        const w = new Events('chroot');
        await call(c, 'getData', '/x', w.watcher);
        await call(zk, 'setData', `${root}/x`, Buffer.from('out'), -1);
        await w.expectNext('NODE_DATA_CHANGED /x');
        c.close();
    });

    await check('async_pipelining_order', async () => {
        const p = `${base}/pipe`;
        await call(zk, 'create', p);
        const order = [];
        const all = [];
        for (let i = 0; i < 200; i += 1) {
            all.push(call(zk, 'create', `${p}/n${i}`, Buffer.from(String(i))).then(([path]) => order.push(`c ${path}`)));
            all.push(call(zk, 'getData', `${p}/n${i}`).then(([d]) => order.push(`g ${d.toString()}`)));
        }
        await within(Promise.all(all), 'all replies');
        for (let i = 0; i < 200; i += 1) {
            eq(`c ${p}/n${i}`, order[2 * i], `reply ${2 * i}`);
            eq(`g ${i}`, order[2 * i + 1], `reply ${2 * i + 1}`);
        }
    });

    await check('session_expiry', async () => {
        // a partition longer than the session: the client is cut off behind the proxy while its
        // session is ended (attach with its id and password, then close); then it gets through
        const p = `${base}/expiry`;
        await call(zk, 'create', p);
        const ev = new Events('doomed');
        const doomed = await connect(proxyHosts, { sessionTimeout: 6000 }, ev);
        await call(doomed, 'create', `${p}/e`, null, OPEN, CreateMode.EPHEMERAL);
        const observer = new Events('observer');
        await call(zk, 'exists', `${p}/e`, observer.watcher);
        await holdAndCut();
        await awaitState(ev, 'DISCONNECTED');
        const twin = await connect(hosts, {
            sessionTimeout: 6000,
            sessionId: doomed.getSessionId(),
            sessionPassword: doomed.getSessionPassword(),
        }, null);
        eq(longHex(doomed.getSessionId()), longHex(twin.getSessionId()), 'the twin shares the session');
        twin.close();
        await observer.expectNext(`NODE_DELETED ${p}/e`);
        await proxy('release');
        await awaitState(ev, 'EXPIRED');
        doomed.close();
    });

    zk.close();
    other.close();
}

main()
    .catch((e) => {
        console.error('fatal:', e);
        failures += 1;
    })
    .finally(() => {
        process.exitCode = failures ? 1 : 0;
        setTimeout(() => process.exit(process.exitCode), 200).unref();
        clients.forEach((c) => {
            try {
                c.close();
            } catch (e) {
                // already closed
            }
        });
    });
