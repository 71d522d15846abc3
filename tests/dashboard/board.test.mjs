// The pharmacy dashboard in Debian's chromium, against the real mosquitto and dawnd that
// tests/integration/test_dashboard.sh starts (it passes ports, paths and scripts in the
// environment). Prints TAP-like "ok - ..." / "not ok - ..." lines; exits 1 if any failed.
//
// Time bounds here are bounds, not sleeps: each wait returns as soon as the page shows what
// it should, and fails if it has not by then.
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

const require = createRequire(new URL('../../dashboard/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const env = process.env;
const URL_BASE = env.DAWN_DASHBOARD_URL;
const SUB = env.DAWN_SUBSCRIBER;
const PASSWORD = env.DAWN_PASSWORD;
const T = env.DAWN_TEST_DIR;
const SCREENSHOT = env.DAWN_SCREENSHOT;
const WITHDRAWN_SECONDS = 4;
const PAGE = `${URL_BASE}?withdrawn_seconds=${WITHDRAWN_SECONDS}&reconnect_max_seconds=2`;
const NAME = 'Sam, duty pharmacist';

let failures = 0;
function ok(name) {
        console.log(`ok - ${name}`);
}
function notOk(name, err) {
        failures++;
        console.log(`not ok - ${name}`);
        const text = err && err.stack ? err.stack : String(err);
        for (const line of text.split('\n').slice(0, 8)) console.log(`    ${line}`);
}
// check(name, async fn): ok when fn resolves, not ok (with why) when it throws; returns whether ok
async function check(name, fn) {
        try {
                await fn();
                ok(name);
                return true;
        } catch (e) {
                notOk(name, e);
                return false;
        }
}
function assert(cond, msg) {
        if (!cond) throw new Error(msg);
}

function dawnctl(...args) {
        return JSON.parse(execFileSync(env.DAWNCTL, ['--json', ...args], { encoding: 'utf8' }));
}
function run(script) {
        execFileSync(`${T}/${script}`, { stdio: ['ignore', 'inherit', 'inherit'] });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, fn, ms) {
        const end = Date.now() + ms;
        for (;;) {
                const v = await fn();
                if (v) return v;
                if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
                await sleep(50);
        }
}

const card = (page, id) => page.locator(`#cards > li[data-id="${id}"]`);
async function cardText(page, id) {
        return (await card(page, id).innerText()).replace(/\s+/g, ' ');
}
// waits until the card's text matches re
async function cardShows(page, id, re, ms) {
        await page.waitForFunction(([sel, src, flags]) => {
                const n = document.querySelector(sel);
                return n && new RegExp(src, flags).test(n.innerText.replace(/\s+/g, ' '));
        }, [`#cards > li[data-id="${id}"]`, re.source, re.flags], { timeout: ms });
}
async function cardOrder(page) {
        return page.$$eval('#cards > li', (ns) => ns.map((n) => n.dataset.id));
}

// Every piece of visible text against the background it is drawn on (the nearest ancestor
// with an opaque one): the WCAG contrast ratio, the worst found.
async function worstContrast(page) {
        return page.evaluate(() => {
                const lum = (c) => {
                        const m = c.match(/rgba?\(([\d.]+), ([\d.]+), ([\d.]+)(?:, ([\d.]+))?\)/);
                        if (!m) return null;
                        const [r, g, b] = [m[1], m[2], m[3]].map((v) => {
                                const s = v / 255;
                                return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
                        });
                        return { l: 0.2126 * r + 0.7152 * g + 0.0722 * b, a: m[4] === undefined ? 1 : +m[4] };
                };
                const bg = (n) => {
                        for (; n; n = n.parentElement) {
                                const c = lum(getComputedStyle(n).backgroundColor);
                                if (c && c.a === 1) return c.l;
                        }
                        return 1;
                };
                let worst = { ratio: 21, text: '' };
                const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
                for (let t = walker.nextNode(); t; t = walker.nextNode()) {
                        const n = t.parentElement;
                        if (!t.textContent.trim() || !n || !n.checkVisibility() || n.closest('.visually-hidden')) continue;
                        const r = n.getBoundingClientRect();
                        if (r.width < 2 || r.height < 2) continue;
                        const fg = lum(getComputedStyle(n).color).l;
                        const b = bg(n);
                        const ratio = (Math.max(fg, b) + 0.05) / (Math.min(fg, b) + 0.05);
                        if (ratio < worst.ratio) worst = { ratio, text: t.textContent.trim().slice(0, 40) };
                }
                return worst;
        });
}

async function signIn(page, { password = PASSWORD, name = NAME, remember = false } = {}) {
        await page.fill('#login-id', SUB);
        await page.fill('#login-password', password);
        if (name !== null) await page.fill('#login-name', name);
        if (remember) await page.check('#login-remember');
        await page.click('#login-submit');
}

// DAWN_DEV_SHOTS=DIR: screenshots of the states a person sees, for whoever changes the page
async function shot(page, name) {
        if (env.DAWN_DEV_SHOTS) await page.screenshot({ path: `${env.DAWN_DEV_SHOTS}/${name}.png`, animations: 'disabled' });
}

function pngSize(file) {
        const b = readFileSync(file);
        assert(b.subarray(1, 4).toString() === 'PNG', `${file} is not a PNG`);
        return { width: b.readUInt32BE(16), height: b.readUInt32BE(20), bytes: b.length };
}

const scenario = {
        critical: ['issue', '--area', 'southampton', '--sold-as', 'heroin', '--adulterant', 'nitazene',
                '--evidence', 'toxicology', '--casualties', '4', '--fatalities', '1',
                '--appearance', 'light brown powder, wraps in blue cling film',
                '--advice', 'Carry naloxone and use it; more than one dose may be needed. Do not use alone. Call 999.',
                'Heroin circulating in Southampton city centre contains a nitazene. Four overdoses in 48 hours, one fatal.'],
        elsewhere: ['issue', '--area', 'portsmouth', '--sold-as', 'diazepam', '--sold-as', 'xanax',
                '--adulterant', 'bromazolam', '--appearance', "blue round tablets marked 'DB' on one side",
                '--evidence', 'clinical', '--casualties', '2',
                '--advice', 'Avoid mixing with alcohol or opioids. Recovery position if unresponsive; call 999.',
                'Blue tablets sold as diazepam in Portsmouth have caused heavy sedation and two hospital admissions.'],
        warning: ['issue', '--area', 'southampton', '--sold-as', 'diazepam', '--adulterant', 'bromazolam',
                '--appearance', "blue round tablets marked 'DB' on one side", '--evidence', 'clinical',
                '--casualties', '2', '--advice', 'Avoid mixing with alcohol or opioids. Stay with friends.',
                'Blue tablets sold as diazepam now seen in Southampton: heavy sedation, two admissions.'],
        info: ['issue', '--area', 'southampton', '--sold-as', 'mdma', '--appearance', "pink pentagon pills, 'Tesla' logo",
                '--advice', 'Start with a quarter, wait two hours, sip water, take breaks.',
                'Unconfirmed reports of strong pink MDMA pills in Southampton.'],
        escalating: ['issue', '--area', 'southampton', '--sold-as', 'crack', '--appearance', 'off-white rocks',
                '--advice', 'Do not use alone.', 'Reports of crack causing chest pain near the Central station.'],
};

const browser = await chromium.launch({
        executablePath: env.CHROMIUM || '/usr/bin/chromium',
        headless: true,
        args: ['--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage',
                '--autoplay-policy=no-user-gesture-required', '--no-first-run', '--disable-component-update'],
});
const problems = []; // CSP refusals and script errors on any page
async function newPage(viewport = { width: 1200, height: 900 }) {
        const context = await browser.newContext({ viewport, locale: 'en-GB', timezoneId: 'Europe/London' });
        await context.grantPermissions(['notifications'], { origin: new URL(URL_BASE).origin });
        const page = await context.newPage();
        page.sockets = [];
        page.on('websocket', (ws) => page.sockets.push(ws.url()));
        page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
        // what the browser says of the broker the test kills on purpose is not a problem of the
        // page's: a refused connection, and MQTT.js writing a ping or an ack to the socket that
        // was closing under it ("WebSocket is already in CLOSING or CLOSED state", a CI flake)
        page.on('console', (m) => {
                if (m.type() === 'error' &&
                    !/Failed to load resource|WebSocket connection|WebSocket is already in CLOSING or CLOSED state/.test(m.text())) {
                        problems.push(`console: ${m.text()}`);
                }
        });
        return page;
}

try {
        const page = await newPage();
        const ids = {};

        // ---- the page, served by dawnd ----
        if (!(await check('dawnd serves the page; it asks for the subscriber id and password', async () => {
                const r = await page.goto(PAGE);
                assert(r && r.ok(), `GET / answered ${r && r.status()}`);
                const csp = r.headers()['content-security-policy'] || '';
                assert(/script-src 'self'/.test(csp), `no strict Content-Security-Policy: "${csp}"`);
                await page.locator('#login-form').waitFor({ timeout: 5000 });
                await shot(page, 'login');
                assert(await page.isVisible('#login-id') && await page.isVisible('#login-password'), 'no login fields');
        }))) throw new Error('no page to test');

        if (!(await check(`it logs in as ${SUB} through dawnd's /mqtt relay and shows an empty board`, async () => {
                await signIn(page);
                await page.locator('#conn-state[data-state="connected"]').waitFor({ timeout: 10000 });
                await page.locator('#empty').waitFor({ timeout: 5000 });
                const ws = page.sockets[0] || '';
                assert(ws === URL_BASE.replace(/^http/, 'ws') + 'mqtt', `the page connected to ${ws}`);
        }))) throw new Error('could not sign in');

        await check('the password is not stored unless asked; the subscriber id and name are', async () => {
                const s = await page.evaluate(() => ({ ...localStorage }));
                assert(!Object.values(s).some((v) => v.includes(PASSWORD)), 'the password is in localStorage');
                assert(s['dawn.subscriber'] === SUB && s['dawn.ackName'] === NAME, JSON.stringify(s));
        });

        // ---- an alert arrives ----
        ids.critical = dawnctl(...scenario.critical).id;
        const issued = Date.now();
        await check('an alert issued with dawnctl appears within 2 s', async () => {
                await card(page, ids.critical).waitFor({ timeout: 2000 });
                console.log(`# it took ${Date.now() - issued} ms`);
        });
        await check('with the grade as a text label and a shape (Critical, octagon)', async () => {
                const label = await card(page, ids.critical).locator('.grade-label').innerText();
                assert(/^critical$/i.test(label.trim()), `grade label "${label}"`);
                assert(await card(page, ids.critical).locator('.grade-icon-critical').count() === 1, 'no icon');
        });
        await check('the card shows type, area, sold as, found, appearance, advice, evidence, sources, times, revision',
                async () => {
                        const t = await cardText(page, ids.critical);
                        for (const want of ['Dangerous batch in Southampton', 'Sold as: heroin', 'Found: nitazene',
                                'light brown powder', 'Carry naloxone', 'Evidence: lab-confirmed',
                                '4 people harmed, 1 death', 'Sources: 1', 'Issued:', 'revision 1',
                                `Alert ${ids.critical}`]) {
                                assert(t.includes(want), `"${want}" not in: ${t}`);
                        }
                });
        await check('a new critical alert is highlighted, sounds, notifies and is announced', async () => {
                await card(page, ids.critical).locator('.card.is-news').waitFor({ timeout: 1000 });
                const dbg = await until('sound', () => page.evaluate(() =>
                        window.dawnBoard.sounds.length && window.dawnBoard), 2000);
                assert(dbg.sounds.at(-1).grade === 'critical', JSON.stringify(dbg.sounds));
                assert(dbg.notifications.some((n) => n.tag === ids.critical), JSON.stringify(dbg.notifications));
                const said = await page.locator('#live-urgent').innerText();
                assert(/New Critical alert/.test(said), `live region: "${said}"`);
        });

        // ---- routing: another area's alert never reaches this page ----
        ids.elsewhere = dawnctl(...scenario.elsewhere).id;
        ids.warning = dawnctl(...scenario.warning).id;
        await check('an alert for another area (Portsmouth) does not appear', async () => {
                await card(page, ids.warning).waitFor({ timeout: 2000 });
                await until(`${ids.elsewhere} delivered`, () => dawnctl('show', ids.elsewhere).deliveries
                        .every((d) => d.state === 'delivered'), 5000);
                assert(await card(page, ids.elsewhere).count() === 0, `${ids.elsewhere} is on the board`);
        });
        ids.info = dawnctl(...scenario.info).id;
        await check('cards are in order of danger: critical, warning, info', async () => {
                await card(page, ids.info).waitFor({ timeout: 2000 });
                const order = await cardOrder(page);
                assert(order.join() === [ids.critical, ids.warning, ids.info].join(), `order ${order}`);
                const labels = await page.$$eval('#cards .grade-label', (ns) => ns.map((n) => n.textContent));
                assert(labels.join() === 'Critical,Warning,Info', labels.join());
        });

        // ---- update, escalation, cancel ----
        dawnctl('update', ids.warning, '--advice', 'Avoid mixing with alcohol or opioids. Never use alone: call 999.');
        await check('an update changes the card (new advice, revision 2)', async () => {
                await cardShows(page, ids.warning, /revision 2.*Never use alone: call 999/, 2000);
        });
        // the new card's own sound comes up to 250 ms after the card (sounds that land together are
        // batched); wait for it, or it would be taken for the escalation's
        const soundsBeforeCard = await page.evaluate(() => window.dawnBoard.sounds.length);
        ids.escalating = dawnctl(...scenario.escalating).id;
        await card(page, ids.escalating).waitFor({ timeout: 2000 });
        const soundsBefore = (await until('the new card\'s sound', () => page.evaluate((n) =>
                window.dawnBoard.sounds.length > n && window.dawnBoard.sounds, soundsBeforeCard), 2000)).length;
        dawnctl('update', ids.escalating, '--casualties', '3');
        await check('an escalated alert (info to warning) is flagged "Grade raised" and sounds again', async () => {
                await cardShows(page, ids.escalating, /^Warning.*Grade raised/i, 2000);
                const s = await until('a second sound', () => page.evaluate((n) =>
                        window.dawnBoard.sounds.length > n && window.dawnBoard.sounds, soundsBefore), 2000);
                assert(s.at(-1).grade === 'warning', JSON.stringify(s));
                const order = await cardOrder(page);
                assert(order.indexOf(ids.escalating) < order.indexOf(ids.info), `order ${order}`);
        });
        dawnctl('cancel', ids.escalating, '--reason', 'Chest pain was from a different cause.');
        await check('a cancel shows "withdrawn" with the reason', async () => {
                await cardShows(page, ids.escalating, /Withdrawn.*Chest pain was from a different cause/i, 2000);
                if (env.DAWN_DEV_SHOTS) await card(page, ids.escalating).scrollIntoViewIfNeeded();
                await shot(page, 'withdrawn');
        });
        await check(`the withdrawn card leaves after ${WITHDRAWN_SECONDS} s (?withdrawn_seconds=)`, async () => {
                await card(page, ids.escalating).waitFor({ state: 'detached', timeout: (WITHDRAWN_SECONDS + 3) * 1000 });
        });

        // ---- acknowledging, with the keyboard ----
        // reaches the button with Tab, from the board's heading, as a keyboard user would
        async function tabTo(p, pred, arg, max = 40) {
                for (let i = 0; i < max; i++) {
                        await p.keyboard.press('Tab');
                        if (await p.evaluate(pred, arg)) return true;
                }
                return false;
        }
        await check('Acknowledge (Tab to it, visible focus, Enter) shows "acknowledged by ... at ..."', async () => {
                await page.locator('#board-title').focus();
                const reached = await tabTo(page, (id) => {
                        const a = document.activeElement;
                        return a && a.classList.contains('btn-ack') && a.closest('li').dataset.id === id;
                }, ids.critical);
                assert(reached, 'Tab never reached the Acknowledge button');
                const ring = await page.evaluate(() => {
                        const s = getComputedStyle(document.activeElement);
                        return `${s.outlineStyle} ${s.outlineWidth} ${s.boxShadow}`;
                });
                assert(/^solid [3-9]px .*rgb\(0, 0, 0\)/.test(ring), `focus ring: ${ring}`);
                await page.keyboard.press('Enter');
                await cardShows(page, ids.critical, new RegExp(`Acknowledged by ${NAME} at \\d\\d:\\d\\d`), 5000);
                const focus = await page.evaluate(() => document.activeElement.className);
                assert(/ack-state/.test(focus), `the keyboard focus went to "${focus}", not the acknowledgement`);
        });
        await check('the acknowledgement is in dawnctl show --json', async () => {
                const a = await until('ack recorded', () => {
                        const acks = dawnctl('show', ids.critical).acks || [];
                        return acks.find((x) => x.by === NAME && x.revision === 1 && x.subscriber === SUB);
                }, 5000);
                assert(a.via === undefined || a.via === 'dashboard', JSON.stringify(a));
        });
        await check('the acknowledged alert moves below the unacknowledged ones', async () => {
                // the card says "Acknowledged" as soon as it is sent; the board re-sorts when the
                // broker hands the retained acknowledgement back, a moment later
                let order = [];
                try {
                        await until('the board re-sorted', async () => {
                                order = await cardOrder(page);
                                return order.indexOf(ids.critical) > order.indexOf(ids.warning) &&
                                       order.indexOf(ids.critical) > order.indexOf(ids.info);
                        }, 5000);
                } catch (e) {
                        throw new Error(`order ${order}`);
                }
        });
        await check('keyboard alone reaches every Acknowledge button', async () => {
                await page.locator('#board-title').focus();
                const seen = new Set();
                for (let i = 0; i < 30; i++) {
                        await page.keyboard.press('Tab');
                        const id = await page.evaluate(() => {
                                const a = document.activeElement;
                                return a && a.classList.contains('btn-ack') ? a.closest('li').dataset.id : null;
                        });
                        if (id) seen.add(id);
                }
                assert(seen.has(ids.warning) && seen.has(ids.info), `reached ${[...seen]}`);
        });

        // ---- how it reads ----
        await check('text contrast is at least 7:1 everywhere on the board', async () => {
                const w = await worstContrast(page);
                assert(w.ratio >= 7, `${w.ratio.toFixed(2)}:1 for "${w.text}"`);
        });
        await check('landmarks and headings: banner, main, h1, a heading per card', async () => {
                assert(await page.locator('header[role="banner"], body > header').count() >= 1, 'no banner');
                assert(await page.locator('main').count() === 1, 'no main');
                assert(await page.locator('h1').count() === 1, 'no h1');
                const n = await page.locator('#cards > li').count();
                assert(await page.locator('#cards h3').count() === n, 'a card without a heading');
        });
        await check('the screenshot of the board with critical, warning and info alerts is saved', async () => {
                await page.mouse.move(0, 0);
                await page.evaluate(() => {
                        if (document.activeElement) document.activeElement.blur();
                        window.scrollTo(0, 0);
                });
                mkdirSync(dirname(SCREENSHOT), { recursive: true });
                // the whole board: 1200 px wide, as tall as the three cards need (about 900 px)
                await page.screenshot({ path: SCREENSHOT, animations: 'disabled', fullPage: true });
                const s = pngSize(SCREENSHOT);
                assert(s.width === 1200 && s.height >= 900 && s.bytes > 20000, JSON.stringify(s));
                console.log(`# ${SCREENSHOT}`);
        });
        await check('on a 360 px wide phone screen nothing runs off the side', async () => {
                await page.setViewportSize({ width: 360, height: 740 });
                const w = await page.evaluate(() => document.documentElement.scrollWidth);
                assert(w <= 360, `the page is ${w} px wide`);
                await shot(page, 'phone');
                const t = await worstContrast(page);
                assert(t.ratio >= 7, `${t.ratio.toFixed(2)}:1 for "${t.text}"`);
                await page.setViewportSize({ width: 1200, height: 900 });
        });

        // ---- the broker goes away and comes back ----
        run('broker-stop');
        await check('killing the broker shows the "connection lost" banner', async () => {
                await page.locator('#banner[data-kind="connection"]').waitFor({ timeout: 5000 });
                await shot(page, 'connection-lost');
                assert(/Connection lost/.test(await page.locator('#banner').innerText()), 'banner text');
        });
        const settledBefore = await page.evaluate(() => window.dawnBoard.settled);
        run('broker-start');
        await check('restarting it: the page reconnects by itself, the banner goes, the alerts stay', async () => {
                await page.locator('#banner').waitFor({ state: 'hidden', timeout: 15000 });
                await page.locator('#conn-state[data-state="connected"]').waitFor({ timeout: 1000 });
                // the broker kept the retained alerts (persistence); once they are all in again,
                // nothing is withdrawn
                await page.waitForFunction((n) => window.dawnBoard.settled > n, settledBefore, { timeout: 6000 });
                // unacknowledged first: the critical one was acknowledged above
                const order = await cardOrder(page);
                assert(order.join() === [ids.warning, ids.info, ids.critical].join(), `board now ${order}`);
                const withdrawn = await page.locator('#cards li[data-status="withdrawn"]').count();
                assert(withdrawn === 0, `${withdrawn} cards withdrawn`);
        });
        await check('and new alerts arrive again once dawnd is back on the broker', async () => {
                await until('dawnd online', () => {
                        try {
                                return execFileSync('mosquitto_sub', ['-p', env.DAWN_MQTT_PORT, '-u', 'dawnd', '-P', 'pw-dawnd',
                                        '-t', 'dawn/v1/status', '-C', '1', '-W', '2'], { encoding: 'utf8' }).trim() === 'online';
                        } catch (e) {
                                return false;
                        }
                }, 20000);
                const id = dawnctl('issue', '--area', 'southampton', '--sold-as', 'ketamine',
                        'Ketamine sold in Southampton is much stronger than usual.').id;
                await card(page, id).waitFor({ timeout: 5000 });
                dawnctl('cancel', id, '--reason', 'test over');
        });
        await check('the page made no Content-Security-Policy refusals or script errors', async () => {
                assert(problems.length === 0, problems.join('\n'));
        });

        // ---- wrong credentials ----
        const wrong = await newPage();
        await wrong.goto(PAGE);
        await signIn(wrong, { password: 'not-the-password' });
        await check('wrong credentials show a clear error on the form, and it stops trying', async () => {
                const err = wrong.locator('#login-error');
                await err.waitFor({ timeout: 5000 });
                const text = await err.innerText();
                assert(/did not accept subscriber id .st-marys-pharmacy. with that password/.test(text), text);
                await shot(wrong, 'wrong-password');
                assert(await wrong.isVisible('#login-form'), 'the form is gone');
                const n = wrong.sockets.length;
                await sleep(2500); // reconnecting would open another socket within a second
                assert(wrong.sockets.length === n, `${wrong.sockets.length - n} more attempts after the refusal`);
        });
        await wrong.context().close();

        // ---- "remember on this computer" ----
        const remembered = await newPage();
        await remembered.goto(PAGE);
        await signIn(remembered, { remember: true });
        await remembered.locator('#conn-state[data-state="connected"]').waitFor({ timeout: 10000 });
        await check('one sound for the alerts there at sign-in; with "remember", a reload signs in by itself, '
                + 'silent for alerts seen, unacknowledged ones still highlighted',
                async () => {
                        await card(remembered, ids.critical).waitFor({ timeout: 5000 });
                        const first = await until('the sound for the new alerts', () => remembered.evaluate(() =>
                                window.dawnBoard.sounds.length), 2000);
                        assert(first === 1, `${first} sounds for the alerts that landed together (want one)`);
                        await remembered.reload();
                        await remembered.locator('#conn-state[data-state="connected"]').waitFor({ timeout: 10000 });
                        await remembered.waitForFunction(() => window.dawnBoard.settled > 0, null, { timeout: 6000 });
                        assert(await card(remembered, ids.critical).count() === 1, 'the critical alert is not back');
                        assert(await remembered.isHidden('#login'), 'the login form is shown');
                        await remembered.waitForTimeout(500); // longer than the page waits to gather alerts for one sound
                        const s = await remembered.evaluate(() => window.dawnBoard.sounds.length);
                        assert(s === 0, `${s} sounds after the reload`);
                        const news = await remembered.$$eval('#cards li:has(.card.is-news)', (ns) => ns.map((n) => n.dataset.id));
                        assert(news.join() === [ids.warning, ids.info].join(),
                                `highlighted after the reload: ${news} (the unacknowledged ones should stay so)`);
                });
        await check('"Sign out" forgets the remembered password', async () => {
                await remembered.click('#signout-button');
                await remembered.locator('#login-form').waitFor({ timeout: 2000 });
                const s = await remembered.evaluate(() => ({ ...localStorage }));
                assert(!Object.values(s).some((v) => v.includes(PASSWORD)), JSON.stringify(s));
        });
        await remembered.context().close();

        // ---- a broker that speaks WebSocket itself; dawnd's "offline" will ----
        run('dawnd-direct');
        const direct = await newPage();
        await check('with dashboard_broker_url set, the page connects to the broker directly', async () => {
                const r = await direct.request.get(`${URL_BASE}config.json`);
                const c = await r.json();
                assert(c.broker_url === `ws://127.0.0.1:${env.DAWN_WS_PORT}/`, JSON.stringify(c));
                await direct.goto(PAGE);
                await signIn(direct);
                await direct.locator('#conn-state[data-state="connected"]').waitFor({ timeout: 10000 });
                assert(direct.sockets[0] === c.broker_url, `connected to ${direct.sockets[0]}`);
                await card(direct, ids.critical).waitFor({ timeout: 5000 });
        });
        run('dawnd-kill');
        await check('dawnd gone (its will says "offline"): the page says the alert service is offline', async () => {
                await direct.locator('#banner[data-kind="daemon"]').waitFor({ timeout: 5000 });
                await shot(direct, 'dawnd-offline');
        });
        run('dawnd-start');
        await check('dawnd back: the banner goes', async () => {
                await direct.locator('#banner').waitFor({ state: 'hidden', timeout: 15000 });
        });
        await direct.context().close();
} catch (e) {
        notOk('the browser test ran to the end', e);
} finally {
        await browser.close();
}
if (!existsSync(SCREENSHOT) || statSync(SCREENSHOT).size === 0) console.log(`# no screenshot at ${SCREENSHOT}`);
process.exit(failures ? 1 : 0);
