/*
 * DAWN's pharmacy dashboard: one page, an MQTT client over WebSocket (MQTT.js).
 *
 * It logs in as the subscriber (user name = subscriber id, password = its broker
 * password), subscribes to <prefix>/subscribers/<id>/alerts/# and .../acks/#
 * (retained: the current state arrives at once) and <prefix>/status, and shows
 * each alert as a card: its own unacknowledged ones first, then the most
 * dangerous. Acknowledging publishes a retained {"revision","by","at"} on
 * .../acks/<alert id>, which dawnd records.
 *
 * Sound and pop-ups: an alert this browser has not seen before, or whose grade
 * rose since it last saw it, is highlighted (until someone acknowledges it),
 * plays a sound and raises a notification when permitted. What this browser
 * has seen is remembered per subscriber in localStorage, so reloading the page
 * or reconnecting after an outage is silent for alerts already on the board,
 * while an alert that arrived while the page was closed is news like any other.
 * Several alerts landing together make one sound (the highest grade's).
 *
 * No framework, no build step: served as-is by dawnd beside mqtt.min.js, under
 * a Content-Security-Policy without inline scripts or styles, so everything
 * here builds DOM nodes with textContent and toggles classes and `hidden`.
 */
'use strict';

(function () {
        // ---- settings ----
        const GRADES = ['logged', 'info', 'warning', 'critical'];
        const GRADE_LABEL = { logged: 'Logged', info: 'Info', warning: 'Warning', critical: 'Critical' };
        const TYPE_LABEL = { batch: 'Dangerous batch', cluster: 'Overdose cluster', nfod: 'Overdose report' };
        const EVIDENCE_LABEL = {
                reported: 'reported, not yet confirmed',
                clinical: 'clinical (seen by health professionals)',
                toxicology: 'lab-confirmed (toxicology)',
        };
        const params = new URLSearchParams(window.location.search);
        function numberParam(name, fallback) {
                const v = Number(params.get(name));
                return params.has(name) && Number.isFinite(v) && v >= 0 ? v : fallback;
        }
        // how long a withdrawn or expired alert stays on the board (tests shorten it)
        const WITHDRAWN_SECONDS = numberParam('withdrawn_seconds', 600);
        // reconnecting: 1 s, then doubling up to this
        const RECONNECT_MIN_MS = 1000;
        const RECONNECT_MAX_MS = numberParam('reconnect_max_seconds', 30) * 1000;
        // after (re)subscribing, the broker sends every retained message and then the
        // status topic's (subscribed last); if no status comes, give up waiting after this
        const SETTLE_FALLBACK_MS = 5000;
        // an acknowledgement not echoed back by the broker within this is reported as failed
        const ACK_CONFIRM_MS = 8000;

        const KEY_SUBSCRIBER = 'dawn.subscriber';
        const KEY_NAME = 'dawn.ackName';
        const KEY_PASSWORD = 'dawn.password'; // only when "remember on this computer" was ticked
        const keySeen = (sub) => 'dawn.seen.' + sub;

        const $ = (id) => document.getElementById(id);
        const store = {
                get(k) {
                        try { return window.localStorage.getItem(k); } catch (e) { return null; }
                },
                set(k, v) {
                        try { window.localStorage.setItem(k, v); } catch (e) { /* private mode: forget */ }
                },
                del(k) {
                        try { window.localStorage.removeItem(k); } catch (e) { /* ignore */ }
                },
        };

        // ---- state ----
        let config = null; // {topic_prefix, broker_url}
        let client = null;
        let session = null; // {sub, password, topics}
        let everConnected = false;
        let connected = false;
        let failedAttempts = 0;
        let daemonStatus = null; // "online" | "offline" | null (unknown)
        let lastContact = null; // Date of the last connect or message
        let settling = false;
        let settleTimer = null;
        const cards = new Map(); // alert id -> card state
        const acks = new Map(); // alert id -> {revision, by, at}
        let seen = {}; // what this browser has shown: see rememberSeen
        let pendingAlarms = [];
        let alarmTimer = null;
        let pendingAckAfterName = null;

        // what the tests (and a curious operator in the console) can read
        const debug = { sounds: [], notifications: [], settled: 0 }; // settled: how often the retained state all came
        window.dawnBoard = debug;

        // ---- small helpers ----
        function gradeIndex(g) {
                const i = GRADES.indexOf(g);
                return i < 0 ? 0 : i;
        }
        function el(tag, cls, text) {
                const n = document.createElement(tag);
                if (cls) n.className = cls;
                if (text !== undefined && text !== null) n.textContent = String(text);
                return n;
        }
        function areaName(id) {
                if (!id) return 'an unknown area';
                const small = new Set(['of', 'the', 'and', 'on', 'upon']);
                return String(id).split('-').map((w, i) =>
                        i > 0 && small.has(w) ? w : w.charAt(0).toUpperCase() + w.slice(1)).join(' ');
        }
        const timeFmt = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit' });
        const dateFmt = new Intl.DateTimeFormat('en-GB', { weekday: 'short', day: 'numeric', month: 'short' });
        function when(iso) {
                const d = iso instanceof Date ? iso : new Date(iso);
                if (Number.isNaN(d.getTime())) return String(iso || '');
                const now = new Date();
                const day = (x) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
                const diff = Math.round((day(now) - day(d)) / 86400000);
                const t = timeFmt.format(d);
                if (diff === 0) return t + ' today';
                if (diff === 1) return t + ' yesterday';
                return t + ' ' + dateFmt.format(d);
        }
        function timeEl(iso) {
                const t = el('time', null, when(iso));
                if (iso && !Number.isNaN(new Date(iso).getTime())) t.dateTime = new Date(iso).toISOString();
                return t;
        }
        function list(v) {
                return Array.isArray(v) ? v.filter((x) => typeof x === 'string' && x.trim()).join(', ') : '';
        }
        function plural(n, one, many) {
                return n + ' ' + (n === 1 ? one : many);
        }

        // ---- what this browser has seen (for "new" and "escalated") ----
        function loadSeen(sub) {
                try {
                        const v = JSON.parse(store.get(keySeen(sub)) || '{}');
                        seen = v && typeof v === 'object' && !Array.isArray(v) ? v : {};
                } catch (e) {
                        seen = {};
                }
        }
        // id -> {g: grade index last shown, h: revision highlighted until acknowledged (0: none), k: why}
        function rememberSeen(card) {
                const e = { g: gradeIndex(card.data.grade), h: card.highlight ? card.highlightRev : 0 };
                if (card.highlight) e.k = card.highlight;
                const old = seen[card.id];
                if (old && old.g === e.g && old.h === e.h && old.k === e.k) return;
                seen[card.id] = e;
                saveSeen();
        }
        function saveSeen() {
                if (!session) return;
                const ids = Object.keys(seen);
                if (ids.length > 1000) ids.slice(0, ids.length - 1000).forEach((id) => delete seen[id]);
                store.set(keySeen(session.sub), JSON.stringify(seen));
        }

        // ---- sound (Web Audio: no file to fetch; a browser lets it start only after a click or key) ----
        let audio = null;
        function audioContext() {
                if (audio) return audio;
                const AC = window.AudioContext || window.webkitAudioContext;
                if (!AC) return null;
                try {
                        audio = new AC();
                        audio.addEventListener('statechange', updateControls);
                } catch (e) {
                        audio = null;
                }
                return audio;
        }
        function unlockAudio() {
                const ctx = audioContext();
                if (ctx && ctx.state === 'suspended') ctx.resume().then(updateControls, updateControls);
                updateControls();
        }
        // tones: [frequency Hz, start s, length s]; critical is loud and repeated, info one soft note
        const PATTERNS = {
                critical: { wave: 'square', gain: 0.22, tones: [[880, 0, 0.22], [660, 0.25, 0.22], [880, 0.5, 0.22],
                        [660, 0.75, 0.22], [880, 1.0, 0.22], [660, 1.25, 0.35]] },
                warning: { wave: 'triangle', gain: 0.35, tones: [[740, 0, 0.25], [740, 0.4, 0.25]] },
                info: { wave: 'sine', gain: 0.3, tones: [[587, 0, 0.35]] },
        };
        function playSound(grade) {
                const p = PATTERNS[grade] || PATTERNS.info;
                const ctx = audioContext();
                const entry = { grade, at: new Date().toISOString(), state: ctx ? ctx.state : 'unavailable' };
                debug.sounds.push(entry);
                if (!ctx || ctx.state !== 'running') return;
                const t0 = ctx.currentTime + 0.02;
                for (const [freq, start, len] of p.tones) {
                        const osc = ctx.createOscillator();
                        const gain = ctx.createGain();
                        osc.type = p.wave;
                        osc.frequency.value = freq;
                        gain.gain.setValueAtTime(0, t0 + start);
                        gain.gain.linearRampToValueAtTime(p.gain, t0 + start + 0.02);
                        gain.gain.setValueAtTime(p.gain, t0 + start + len - 0.04);
                        gain.gain.linearRampToValueAtTime(0, t0 + start + len);
                        osc.connect(gain).connect(ctx.destination);
                        osc.start(t0 + start);
                        osc.stop(t0 + start + len + 0.01);
                }
        }

        // ---- browser notifications ----
        function notificationsAvailable() {
                return 'Notification' in window && window.isSecureContext !== false;
        }
        function requestNotifications() {
                if (!notificationsAvailable() || Notification.permission !== 'default') return;
                try {
                        const r = Notification.requestPermission(updateControls);
                        if (r && r.then) r.then(updateControls, updateControls);
                } catch (e) { /* old browsers */ }
        }
        function notify(title, body, tag, urgent) {
                if (!notificationsAvailable() || Notification.permission !== 'granted') return;
                try {
                        const n = new Notification(title, { body, tag, renotify: true, requireInteraction: urgent });
                        n.onclick = () => {
                                window.focus();
                                const card = document.querySelector('[data-id="' + CSS.escape(tag) + '"] .card-title');
                                if (card) card.scrollIntoView({ block: 'center' });
                                n.close();
                        };
                        debug.notifications.push({ title, body, tag });
                } catch (e) { /* e.g. Android Chrome wants a service worker: the card and the sound remain */ }
        }

        // ---- spoken announcements (aria-live) ----
        function announce(text, urgent) {
                const region = $(urgent ? 'live-urgent' : 'live-polite');
                const p = el('p', null, text);
                region.appendChild(p);
                while (region.childNodes.length > 5) region.removeChild(region.firstChild);
        }
        function describe(a) {
                const bits = [GRADE_LABEL[a.grade] || a.grade, (TYPE_LABEL[a.type] || a.type).toLowerCase(),
                        'in ' + areaName(a.area)];
                const sold = list(a.sold_as);
                const found = list(a.adulterants);
                let s = bits.join(' ');
                if (sold) s += ', sold as ' + sold;
                if (found) s += ', found ' + found;
                return s;
        }

        // news: one sound for all that land together, a notification and an announcement each
        function alarm(card, kind) {
                pendingAlarms.push({ id: card.id, kind });
                if (!alarmTimer) alarmTimer = setTimeout(flushAlarms, 250);
        }
        function flushAlarms() {
                alarmTimer = null;
                const items = pendingAlarms.filter((x) => cards.has(x.id) && !cards.get(x.id).withdrawn);
                pendingAlarms = [];
                if (!items.length) return;
                let top = 0;
                for (const x of items) top = Math.max(top, gradeIndex(cards.get(x.id).data.grade));
                playSound(GRADES[top]);
                const shown = items.slice(0, 3);
                for (const x of shown) {
                        const a = cards.get(x.id).data;
                        const head = (x.kind === 'escalated' ? 'Raised to ' : 'New ') + (GRADE_LABEL[a.grade] || a.grade) +
                                ' alert: ' + (TYPE_LABEL[a.type] || a.type) + ' in ' + areaName(a.area);
                        notify(head, (a.summary || describe(a)) + (a.advice ? ' Advice: ' + a.advice : ''),
                                a.id, a.grade === 'critical');
                        announce(head + '. ' + (a.summary || describe(a)), a.grade === 'critical');
                }
                if (items.length > shown.length) {
                        const more = items.length - shown.length;
                        notify('DAWN: ' + plural(more, 'more alert', 'more alerts'), 'Open the dashboard to see them.',
                                'dawn-more', false);
                        announce(plural(more, 'more new alert', 'more new alerts') + ' on the board.', false);
                }
        }

        // ---- the cards ----
        function isWithdrawnStatus(s) {
                return s === 'cancelled' || s === 'expired';
        }
        function onAlert(id, a) {
                if (!a || typeof a !== 'object' || typeof a.revision !== 'number') return;
                let card = cards.get(id);
                if (isWithdrawnStatus(a.status)) {
                        withdraw(id, a);
                        return;
                }
                if (card && !card.withdrawn && card.data.revision > a.revision) return; // older than what we show
                if (card && card.withdrawn && !card.endedUnseen && card.data.revision >= a.revision) return;
                const gi = gradeIndex(a.grade);
                const before = seen[id] && typeof seen[id] === 'object' ? seen[id] : null;
                let kind = null;
                if (a.grade !== 'logged') {
                        if (!before) kind = 'new';
                        else if (gi > before.g) kind = 'escalated';
                }
                const changed = !card || card.withdrawn || card.data.revision !== a.revision;
                if (!card) {
                        card = { id, data: a, highlight: null, highlightRev: 0, withdrawn: false };
                        cards.set(id, card);
                        // still highlighted from before a reload: not acknowledged since
                        if (!kind && before && before.h) {
                                card.highlight = before.k === 'escalated' ? 'escalated' : 'new';
                                card.highlightRev = before.h;
                        }
                } else if (changed && !kind && !card.withdrawn) {
                        card.flash = true;
                        announce('Alert ' + id + ' updated: ' + describe(a) + '.', false);
                }
                card.data = a;
                card.stale = false;
                card.withdrawn = false;
                card.endedUnseen = false;
                clearTimeout(card.removeTimer);
                if (kind) {
                        card.highlight = kind;
                        card.highlightRev = a.revision;
                        alarm(card, kind);
                }
                rememberSeen(card);
                if (changed || kind) renderCard(card);
                refreshBoard();
        }
        // A cancel or expiry: the final message says why; an empty retained message after it
        // only clears the topic. If the page missed the final message (disconnected), the empty
        // message, or the alert's absence after reconnecting, still withdraws the card.
        function withdraw(id, a, unseenReason) {
                let card = cards.get(id);
                delete seen[id];
                saveSeen();
                if (!card) {
                        if (!a) return;
                        card = { id, data: a, highlight: null, highlightRev: 0 };
                        cards.set(id, card);
                } else if (card.withdrawn && !a) {
                        return;
                }
                if (a) card.data = a;
                card.withdrawn = true;
                card.endedUnseen = !a;
                card.unseenReason = unseenReason || null;
                card.withdrawnAt = new Date();
                card.highlight = null;
                card.pendingAck = null;
                clearTimeout(card.removeTimer);
                card.removeTimer = setTimeout(() => removeCard(id), WITHDRAWN_SECONDS * 1000);
                const st = card.data.status === 'expired' && a ? 'expired' : 'withdrawn';
                const reason = a ? a.cancel_reason : null;
                announce('Alert ' + id + ' ' + st + (reason ? ': ' + reason : '') + '. ' + describe(card.data) + '.',
                        false);
                renderCard(card);
                refreshBoard();
        }
        function removeCard(id) {
                const card = cards.get(id);
                if (!card || !card.withdrawn) return;
                cards.delete(id);
                if (card.node) {
                        const hadFocus = card.node.contains(document.activeElement);
                        card.node.remove();
                        if (hadFocus) $('board-title').focus();
                }
                refreshBoard();
        }
        function onAck(id, ack) {
                if (!ack) {
                        acks.delete(id);
                } else {
                        if (typeof ack !== 'object' || typeof ack.revision !== 'number') return;
                        acks.set(id, { revision: ack.revision, by: String(ack.by || 'someone'), at: ack.at || null });
                }
                const card = cards.get(id);
                if (card) {
                        if (card.pendingAck && ack && ack.revision >= card.pendingAck.revision) {
                                clearTimeout(card.pendingAck.timer);
                                card.pendingAck = null;
                        }
                        renderCard(card);
                        refreshBoard();
                }
        }
        function currentAck(card) {
                const ack = acks.get(card.id);
                return ack && ack.revision >= card.data.revision ? ack : null;
        }

        function fact(dl, label, value, cls) {
                if (value === null || value === undefined || value === '') return;
                const row = el('div', 'fact' + (cls ? ' ' + cls : ''));
                const block = cls === 'fact-advice';
                row.appendChild(el('dt', null, block ? label : label + ':'));
                row.append(' ');
                const dd = el('dd');
                if (value instanceof Node) dd.appendChild(value);
                else dd.textContent = String(value);
                row.appendChild(dd);
                dl.appendChild(row);
        }

        function renderCard(card) {
                const a = card.data;
                const grade = GRADES.includes(a.grade) ? a.grade : 'info';
                if (!card.node) {
                        card.node = el('li', 'card-item');
                        card.node.dataset.id = card.id;
                }
                // remember what had the keyboard focus inside the card, to put it back
                const active = document.activeElement;
                const focusKey = active && card.node.contains(active) ? active.dataset.focusKey : null;

                const ack = currentAck(card);
                if (card.highlight && ack && ack.revision >= card.highlightRev) {
                        card.highlight = null;
                        if (!card.withdrawn) rememberSeen(card);
                }
                card.node.dataset.grade = grade;
                card.node.dataset.status = card.withdrawn ? 'withdrawn' : a.status || 'active';
                card.node.dataset.revision = String(a.revision);

                const art = el('article', 'card grade-' + grade);
                if (card.highlight) art.classList.add('is-news');
                if (card.withdrawn) art.classList.add('is-withdrawn');
                if (card.flash) {
                        art.classList.add('is-updated');
                        card.flash = false;
                }
                const titleId = 'card-' + card.id.replace(/[^A-Za-z0-9_-]/g, '_') + '-title';
                art.setAttribute('aria-labelledby', titleId);

                const h = el('h3', 'card-title');
                h.id = titleId;
                h.tabIndex = -1;
                const badge = el('span', 'grade-badge');
                badge.appendChild(el('span', 'grade-icon grade-icon-' + grade));
                badge.lastChild.setAttribute('aria-hidden', 'true');
                badge.appendChild(el('span', 'grade-label', GRADE_LABEL[grade]));
                h.appendChild(badge);
                h.appendChild(el('span', 'visually-hidden', ': '));
                h.appendChild(el('span', 'card-what', (TYPE_LABEL[a.type] || a.type || 'Alert') + ' in ' + areaName(a.area)));
                art.appendChild(h);

                const meta = el('p', 'card-meta');
                meta.appendChild(el('span', 'card-id', 'Alert ' + card.id));
                meta.appendChild(el('span', 'card-rev', 'revision ' + a.revision));
                if (card.highlight && !card.withdrawn) {
                        meta.appendChild(el('span', 'flag flag-news',
                                card.highlight === 'escalated' ? 'Grade raised' : 'New'));
                }
                art.appendChild(meta);

                if (card.withdrawn) {
                        const w = el('div', 'withdrawn-note');
                        const expired = a.status === 'expired' && !card.endedUnseen;
                        const wt = el('p', 'withdrawn-title', expired ? 'Expired: no longer current' : 'Withdrawn');
                        const at = card.endedUnseen ? null : a.updated_at;
                        if (at) {
                                wt.append(' ');
                                wt.appendChild(el('span', 'withdrawn-when'));
                                wt.lastChild.append('at ');
                                wt.lastChild.appendChild(timeEl(at));
                        }
                        w.appendChild(wt);
                        let why = expired ? null : a.cancel_reason;
                        if (card.endedUnseen) why = card.unseenReason || 'This alert ended while this page was not connected.';
                        if (why) w.appendChild(el('p', 'withdrawn-reason', why));
                        art.appendChild(w);
                }

                if (a.summary) art.appendChild(el('p', 'card-summary', a.summary));

                const dl = el('dl', 'facts');
                fact(dl, 'Sold as', list(a.sold_as));
                fact(dl, 'Found', list(a.adulterants));
                fact(dl, 'Appearance', a.appearance);
                const harm = [];
                if (a.casualties > 0) harm.push(plural(a.casualties, 'person harmed', 'people harmed'));
                if (a.fatalities > 0) harm.push(plural(a.fatalities, 'death', 'deaths'));
                fact(dl, 'Harm', harm.join(', '));
                fact(dl, 'Advice', a.advice, 'fact-advice');
                art.appendChild(dl);

                // the record: smaller, on as few lines as fit
                const more = el('dl', 'facts-small');
                fact(more, 'Evidence', EVIDENCE_LABEL[a.evidence] || a.evidence);
                const nsrc = Array.isArray(a.sources) ? a.sources.length : 0;
                fact(more, 'Sources', nsrc ? String(nsrc) : null);
                fact(more, 'Issued', a.issued_at ? timeEl(a.issued_at) : null);
                fact(more, 'Updated', a.updated_at && a.updated_at !== a.issued_at ? timeEl(a.updated_at) : null);
                fact(more, 'Sharing', a.scope === 'public' ? 'may be shared with the public' : 'professionals only');
                art.appendChild(more);

                if (Array.isArray(a.grade_reasons) && a.grade_reasons.length) {
                        const det = el('details', 'reasons');
                        const sum = el('summary', null, 'Why ' + GRADE_LABEL[grade].toLowerCase());
                        sum.dataset.focusKey = 'reasons';
                        det.appendChild(sum);
                        const ul = el('ul');
                        for (const r of a.grade_reasons) ul.appendChild(el('li', null, r));
                        det.appendChild(ul);
                        if (card.node.querySelector('details.reasons[open]')) det.open = true;
                        art.appendChild(det);
                }

                if (!card.withdrawn) art.appendChild(renderAck(card, ack, titleId));

                card.node.replaceChildren(art);
                if (focusKey) {
                        // the same control if it is still there; else what replaced it (the
                        // acknowledgement line once acknowledged), else the card's heading
                        const again = card.node.querySelector('[data-focus-key="' + focusKey + '"]') ||
                                card.node.querySelector('.ack-state') || h;
                        again.focus();
                }
        }

        function renderAck(card, ack, titleId) {
                const box = el('div', 'ack');
                const a = card.data;
                const anyAck = acks.get(card.id);
                const line = el('p', 'ack-state');
                line.tabIndex = -1;
                if (ack) {
                        line.classList.add('is-acked');
                        line.append('Acknowledged by ' + ack.by + ' at ');
                        line.appendChild(timeEl(ack.at || new Date()));
                } else if (anyAck) {
                        line.append('Revision ' + anyAck.revision + ' was acknowledged by ' + anyAck.by + ' at ');
                        line.appendChild(timeEl(anyAck.at || new Date()));
                        line.append('. It has changed since: please read it and acknowledge again.');
                } else {
                        line.textContent = 'Not acknowledged yet.';
                }
                box.appendChild(line);
                if (!ack) {
                        const b = el('button', 'btn btn-ack', anyAck ? 'Acknowledge revision ' + a.revision : 'Acknowledge');
                        b.type = 'button';
                        b.dataset.focusKey = 'ack';
                        b.setAttribute('aria-describedby', titleId); // which alert, for a screen reader
                        // aria-disabled rather than disabled: a disabled button would drop the keyboard focus
                        if (card.pendingAck) {
                                b.setAttribute('aria-disabled', 'true');
                                b.textContent = 'Sending…';
                        } else if (!connected) {
                                b.setAttribute('aria-disabled', 'true');
                                b.textContent = 'Acknowledge (when connected)';
                        }
                        b.addEventListener('click', () => acknowledge(card.id));
                        box.appendChild(b);
                }
                if (card.ackError) box.appendChild(el('p', 'ack-error', card.ackError));
                return box;
        }

        // This subscriber's own unacknowledged alerts first (the ones dawnd escalates if nobody
        // acknowledges them), then by danger, newest first; withdrawn ones last.
        function sortKey(card) {
                return [card.withdrawn ? 1 : 0, currentAck(card) ? 1 : 0, -gradeIndex(card.data.grade),
                        -(Date.parse(card.data.updated_at || card.data.issued_at) || 0)];
        }
        function compareCards(x, y) {
                const a = sortKey(x);
                const b = sortKey(y);
                for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
                return x.id < y.id ? -1 : x.id > y.id ? 1 : 0;
        }
        function refreshBoard() {
                const ol = $('cards');
                const ordered = Array.from(cards.values()).sort(compareCards);
                const nodes = ordered.map((c) => c.node).filter(Boolean);
                const current = Array.from(ol.children);
                const same = nodes.length === current.length && nodes.every((n, i) => n === current[i]);
                if (!same) {
                        const active = document.activeElement;
                        const restore = active && ol.contains(active) ? active : null;
                        nodes.forEach((n, i) => {
                                if (ol.children[i] !== n) ol.insertBefore(n, ol.children[i] || null);
                        });
                        for (const n of Array.from(ol.children)) if (!nodes.includes(n)) n.remove();
                        if (restore && document.activeElement !== restore && document.contains(restore)) restore.focus();
                }
                const live = ordered.filter((c) => !c.withdrawn);
                const counts = {};
                for (const c of live) counts[c.data.grade] = (counts[c.data.grade] || 0) + 1;
                const parts = ['critical', 'warning', 'info', 'logged'].filter((g) => counts[g])
                        .map((g) => counts[g] + ' ' + GRADE_LABEL[g].toLowerCase());
                const unacked = live.filter((c) => !currentAck(c)).length;
                let text = live.length ? plural(live.length, 'current alert', 'current alerts') + ': ' + parts.join(', ') + '.'
                        : '';
                if (unacked) text += ' ' + unacked + ' not acknowledged.';
                $('board-summary').textContent = text;
                $('board-summary').hidden = !text;
                $('empty').hidden = live.length > 0 || !everConnected;
                const crit = counts.critical || 0;
                document.title = (crit ? '(' + crit + ' critical) ' : live.length ? '(' + live.length + ') ' : '') +
                        'DAWN drug alerts';
        }
        function renderAll() {
                for (const c of cards.values()) renderCard(c);
                refreshBoard();
        }

        // ---- acknowledging ----
        function acknowledge(id) {
                const card = cards.get(id);
                if (!card || card.withdrawn || card.pendingAck || !client || !connected) return;
                const by = (store.get(KEY_NAME) || '').trim();
                if (!by) {
                        pendingAckAfterName = id;
                        openNameDialog();
                        return;
                }
                const revision = card.data.revision;
                card.ackError = null;
                card.pendingAck = {
                        revision,
                        timer: setTimeout(() => {
                                if (!card.pendingAck) return;
                                card.pendingAck = null;
                                card.ackError = 'The acknowledgement was not confirmed. Check the connection and try again.';
                                renderCard(card);
                        }, ACK_CONFIRM_MS),
                };
                renderCard(card);
                const payload = JSON.stringify({ revision, by, at: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') });
                client.publish(session.topics.acks + id, payload, { qos: 1, retain: true }, (err) => {
                        if (!err) return;
                        clearTimeout(card.pendingAck && card.pendingAck.timer);
                        card.pendingAck = null;
                        card.ackError = 'Could not send the acknowledgement: ' + err.message;
                        renderCard(card);
                });
        }
        function openNameDialog() {
                const d = $('name-dialog');
                $('name-input').value = store.get(KEY_NAME) || '';
                $('name-error').hidden = true;
                if (typeof d.showModal === 'function') d.showModal();
                else d.setAttribute('open', '');
                $('name-input').focus();
        }
        function closeNameDialog() {
                const d = $('name-dialog');
                if (typeof d.close === 'function') d.close();
                else d.removeAttribute('open');
        }

        // ---- connection state on the page ----
        function setConnState(state, text) {
                const p = $('conn-state');
                p.dataset.state = state;
                p.textContent = text;
        }
        function updateBanner() {
                const banner = $('banner');
                let kind = null;
                let title = '';
                let text = '';
                const since = lastContact ? ' Last contact ' + when(lastContact) + '.' : '';
                if (session && !connected && (everConnected || failedAttempts > 0)) {
                        kind = 'connection';
                        title = everConnected ? 'Connection lost: reconnecting…' : 'Cannot reach the alert server: still trying…';
                        text = 'New alerts cannot arrive until the connection is back, and the alerts shown may be out of date.' +
                                since + ' This page keeps trying by itself.';
                } else if (session && connected && daemonStatus === 'offline') {
                        kind = 'daemon';
                        title = 'The DAWN alert service is offline';
                        text = 'This page is connected, but no new alerts or updates can be sent until the service is back. ' +
                                'The alerts shown may be out of date. If this lasts, call your public-health team.';
                }
                const was = banner.dataset.kind || '';
                banner.hidden = !kind;
                banner.dataset.kind = kind || '';
                if (kind && (was !== kind || $('banner-title').textContent !== title)) {
                        $('banner-title').textContent = title;
                }
                if (kind) $('banner-text').textContent = text;
                document.body.classList.toggle('has-banner', !!kind);
        }
        function updateControls() {
                const signedIn = !!session && everConnected;
                $('controls').hidden = !signedIn;
                const sb = $('sound-button');
                sb.hidden = !signedIn || !audio || audio.state === 'running';
                const nb = $('notify-button');
                nb.hidden = !signedIn || !notificationsAvailable() || Notification.permission !== 'default';
                $('name-button').textContent = store.get(KEY_NAME) ? 'Name: ' + store.get(KEY_NAME) : 'Set your name';
        }
        function showLogin(message) {
                $('board-section').hidden = true;
                $('login').hidden = false;
                $('site-name').hidden = true;
                $('login-id').value = store.get(KEY_SUBSCRIBER) || $('login-id').value || '';
                $('login-name').value = store.get(KEY_NAME) || '';
                $('login-remember').checked = !!store.get(KEY_PASSWORD);
                const err = $('login-error');
                err.hidden = !message;
                err.textContent = message || '';
                $('login-submit').disabled = false;
                $('login-submit').textContent = 'Sign in';
                setConnState('idle', 'Not signed in');
                updateControls();
                updateBanner();
                const focus = message ? $('login-password') : $('login-id').value ? $('login-password') : $('login-id');
                focus.focus();
        }
        function showBoard() {
                audioContext(); // made now, so that the sound button shows at once if the browser holds sound back
                $('login').hidden = true;
                $('board-section').hidden = false;
                $('site-name').hidden = false;
                $('site-name').textContent = session.sub;
                updateControls();
                refreshBoard();
        }

        // ---- MQTT ----
        function brokerUrl() {
                if (config.broker_url) return config.broker_url;
                const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
                return proto + '//' + window.location.host + '/mqtt';
        }
        async function loadConfig() {
                if (config) return config;
                const r = await fetch('config.json', { cache: 'no-store', credentials: 'same-origin' });
                if (!r.ok) throw new Error('HTTP ' + r.status);
                const c = await r.json();
                config = {
                        topic_prefix: typeof c.topic_prefix === 'string' && c.topic_prefix ? c.topic_prefix : 'dawn/v1',
                        broker_url: typeof c.broker_url === 'string' && c.broker_url ? c.broker_url : null,
                };
                return config;
        }
        function isAuthError(err) {
                // CONNACK return codes: MQTT 3.1.1 4 (bad user name or password), 5 (not authorised);
                // MQTT 5 134, 135
                return err && (err.code === 4 || err.code === 5 || err.code === 134 || err.code === 135);
        }

        async function signIn(sub, password, fromForm) {
                try {
                        await loadConfig();
                } catch (e) {
                        showLogin('Could not load this page’s settings from the server (' + e.message +
                                '). Check the address and try again.');
                        return;
                }
                if (typeof window.mqtt === 'undefined') {
                        showLogin('The MQTT library (mqtt.min.js) did not load. Ask whoever runs DAWN to check the installation.');
                        return;
                }
                stopClient();
                const prefix = config.topic_prefix;
                const base = prefix + '/subscribers/' + sub + '/';
                session = {
                        sub,
                        password,
                        fromForm,
                        topics: { alerts: base + 'alerts/', acks: base + 'acks/', status: prefix + '/status' },
                };
                everConnected = false;
                connected = false;
                failedAttempts = 0;
                daemonStatus = null;
                cards.forEach((c) => clearTimeout(c.removeTimer));
                cards.clear();
                acks.clear();
                $('cards').replaceChildren();
                loadSeen(sub);
                setConnState('connecting', 'Connecting…');
                const rand = Math.random().toString(36).slice(2, 10);
                const c = window.mqtt.connect(brokerUrl(), {
                        protocolVersion: 4,
                        clientId: ('dawn-' + sub).slice(0, 40) + '-' + rand,
                        username: sub,
                        password,
                        clean: true,
                        // MQTT.js would keep its keepalive timer in a Web Worker made from a blob: URL,
                        // which the page's Content-Security-Policy refuses: plain timers, then. A
                        // background tab may have them slowed to once a minute, so the keepalive is
                        // long enough (a ping every 2 minutes, the broker waits 3) to survive that.
                        timerVariant: 'native',
                        keepalive: 120,
                        connectTimeout: 10000,
                        reconnectPeriod: RECONNECT_MIN_MS,
                        reconnectOnConnackError: true, // a refused login is handled below: stop then
                        resubscribe: false, // subscribed again on every connect, below
                });
                client = c;
                c.on('connect', () => {
                        if (client !== c) return;
                        connected = true;
                        failedAttempts = 0;
                        c.options.reconnectPeriod = RECONNECT_MIN_MS;
                        lastContact = new Date();
                        const first = !everConnected;
                        everConnected = true;
                        if (first) {
                                store.set(KEY_SUBSCRIBER, sub);
                                showBoard();
                                if (session.fromForm) $('board-title').focus();
                        }
                        setConnState('connected', 'Connected');
                        subscribeAll(c);
                        updateBanner();
                        renderAll();
                });
                c.on('reconnect', () => {
                        if (client !== c) return;
                        setConnState('connecting', everConnected ? 'Reconnecting…' : 'Connecting…');
                        // back off: the next wait doubles, up to RECONNECT_MAX_MS
                        c.options.reconnectPeriod = Math.min(RECONNECT_MAX_MS,
                                Math.max(RECONNECT_MIN_MS, c.options.reconnectPeriod * 2));
                });
                c.on('close', () => {
                        if (client !== c) return;
                        const was = connected;
                        connected = false;
                        if (!was) failedAttempts++;
                        clearTimeout(settleTimer);
                        settling = false;
                        if (session) {
                                setConnState('offline', everConnected ? 'Offline: reconnecting' : 'Cannot connect: retrying');
                                if (!everConnected && session.fromForm) {
                                        $('login-error').hidden = false;
                                        $('login-error').textContent = 'Cannot reach the alert server yet. Still trying… ' +
                                                '(To try other details, enter them and sign in again.)';
                                        $('login-submit').disabled = false;
                                        $('login-submit').textContent = 'Sign in';
                                }
                        }
                        updateBanner();
                        if (was) renderAll(); // disables the Acknowledge buttons
                });
                c.on('error', (err) => {
                        if (client !== c) return;
                        if (isAuthError(err)) {
                                const remembered = !!store.get(KEY_PASSWORD);
                                store.del(KEY_PASSWORD);
                                stopClient();
                                session = null;
                                showLogin('The alert server did not accept subscriber id “' + sub + '” with that password. ' +
                                        'Check both and try again.' + (remembered ? ' (The remembered password was removed.)' : '') +
                                        ' If they worked before, ask your public-health team whether the password was changed.');
                        } else {
                                console.warn('DAWN dashboard: MQTT error:', err && err.message);
                        }
                });
                c.on('message', (topic, payload, packet) => {
                        if (client !== c) return;
                        lastContact = new Date();
                        onMessage(topic, payload, packet);
                });
        }
        function stopClient() {
                const c = client;
                client = null;
                connected = false;
                clearTimeout(settleTimer);
                if (c) {
                        try {
                                c.end(true);
                        } catch (e) { /* already closed */ }
                }
        }
        // Alerts and acks first; the status topic in a second SUBSCRIBE after the first is
        // acknowledged, so its retained message comes after every retained alert: when it
        // arrives, what the broker holds has all arrived, and a card that did not come back
        // (cancelled or expired while this page was away) can go.
        function subscribeAll(c) {
                const t = session.topics;
                for (const card of cards.values()) card.stale = !card.withdrawn;
                settling = true;
                clearTimeout(settleTimer);
                settleTimer = setTimeout(settled, SETTLE_FALLBACK_MS);
                c.subscribe({ [t.alerts + '#']: { qos: 1 }, [t.acks + '#']: { qos: 1 } }, (err) => {
                        if (err || client !== c) return;
                        c.subscribe(t.status, { qos: 1 });
                });
        }
        function settled() {
                if (!settling) return;
                settling = false;
                debug.settled++;
                clearTimeout(settleTimer);
                for (const card of Array.from(cards.values())) {
                        if (card.stale && !card.withdrawn) withdraw(card.id, null);
                        card.stale = false;
                }
                // forget what is no longer on the board
                for (const id of Object.keys(seen)) if (!cards.has(id)) delete seen[id];
                saveSeen();
        }
        function onMessage(topic, payload, packet) {
                const t = session.topics;
                const text = payload && payload.length ? new TextDecoder().decode(payload) : '';
                if (topic === t.status) {
                        daemonStatus = text.trim() || null;
                        if (settling) settled();
                        updateBanner();
                        return;
                }
                let kind = null;
                let id = null;
                if (topic.startsWith(t.alerts)) {
                        kind = 'alert';
                        id = topic.slice(t.alerts.length);
                } else if (topic.startsWith(t.acks)) {
                        kind = 'ack';
                        id = topic.slice(t.acks.length);
                }
                if (!kind || !id || id.includes('/')) return;
                let obj = null;
                if (text) {
                        try {
                                obj = JSON.parse(text);
                        } catch (e) {
                                console.warn('DAWN dashboard: not JSON on', topic);
                                return;
                        }
                }
                if (kind === 'ack') onAck(id, obj);
                else if (obj) onAlert(id, obj);
                else withdraw(id, null, 'This alert was withdrawn or has expired.');
        }

        // ---- wiring ----
        function init() {
                $('login-form').addEventListener('submit', (ev) => {
                        ev.preventDefault();
                        unlockAudio(); // this click is the user gesture a browser wants before sound
                        requestNotifications();
                        const sub = $('login-id').value.trim();
                        const password = $('login-password').value;
                        const name = $('login-name').value.trim();
                        const err = $('login-error');
                        if (!sub || !password) {
                                err.hidden = false;
                                err.textContent = !sub ? 'Enter the subscriber id.' : 'Enter the password.';
                                (!sub ? $('login-id') : $('login-password')).focus();
                                return;
                        }
                        if (/[#+/\s]/.test(sub)) {
                                err.hidden = false;
                                err.textContent = 'A subscriber id has no spaces, slashes, “+” or “#”.';
                                $('login-id').focus();
                                return;
                        }
                        if (name) store.set(KEY_NAME, name);
                        if ($('login-remember').checked) store.set(KEY_PASSWORD, password);
                        else store.del(KEY_PASSWORD);
                        store.set(KEY_SUBSCRIBER, sub);
                        err.hidden = true;
                        $('login-submit').disabled = true;
                        $('login-submit').textContent = 'Signing in…';
                        $('login-password').value = '';
                        signIn(sub, password, true);
                });
                $('signout-button').addEventListener('click', () => {
                        stopClient();
                        session = null;
                        everConnected = false;
                        store.del(KEY_PASSWORD);
                        cards.forEach((c) => clearTimeout(c.removeTimer));
                        cards.clear();
                        acks.clear();
                        $('cards').replaceChildren();
                        showLogin(null);
                });
                $('sound-button').addEventListener('click', () => {
                        unlockAudio();
                        playSound('info');
                });
                $('notify-button').addEventListener('click', requestNotifications);
                $('name-button').addEventListener('click', () => {
                        pendingAckAfterName = null;
                        openNameDialog();
                });
                $('name-form').addEventListener('submit', (ev) => {
                        const v = $('name-input').value.trim();
                        if (!v) {
                                ev.preventDefault();
                                $('name-error').hidden = false;
                                $('name-error').textContent = 'Type a name or role, for example “Duty pharmacist”.';
                                $('name-input').focus();
                                return;
                        }
                        store.set(KEY_NAME, v);
                        updateControls();
                        const id = pendingAckAfterName;
                        pendingAckAfterName = null;
                        if (id) setTimeout(() => acknowledge(id), 0);
                });
                $('name-cancel').addEventListener('click', () => {
                        pendingAckAfterName = null;
                        closeNameDialog();
                });
                // any click or key may be the gesture that lets sound play
                document.addEventListener('pointerdown', unlockAudio, { capture: true });
                document.addEventListener('keydown', unlockAudio, { capture: true });
                // back on the network (a laptop woken up): try at once rather than at the next backoff step
                window.addEventListener('online', () => {
                        if (client && !connected) client.reconnect();
                });
                // times say "today" and "yesterday": keep them true past midnight
                setInterval(() => {
                        if (cards.size) renderAll();
                        updateBanner();
                }, 60000);

                const sub = store.get(KEY_SUBSCRIBER);
                const password = store.get(KEY_PASSWORD);
                if (sub && password) {
                        $('login').hidden = true;
                        signIn(sub, password, false);
                } else {
                        showLogin(null);
                }
        }

        if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
        else init();
})();
