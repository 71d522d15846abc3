-- A store as dawnd 0.1.0 (schema version 9) left it: made by tests' own demo
-- config (conf/demo.conf), 4 alerts issued, updated, cancelled and merged over
-- dawnctl and HTTP, 20 MQTT deliveries. sqlite3 .dump, plus its user_version.
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE alerts (  id TEXT PRIMARY KEY,  seq INTEGER NOT NULL UNIQUE,  fingerprint TEXT NOT NULL,  status TEXT NOT NULL,  grade TEXT NOT NULL,  revision INTEGER NOT NULL,  issued_at INTEGER NOT NULL,  updated_at INTEGER NOT NULL,  expires_at INTEGER,  json TEXT NOT NULL, type TEXT NOT NULL DEFAULT '', area TEXT NOT NULL DEFAULT '', cluster_id TEXT, pruned_at INTEGER);
INSERT INTO alerts VALUES('A1',1,'batchsouthamptonheroinnitazene','active','warning',2,1796455279131969,1796455279150075,1797664879000000,'{"id":"A1","revision":2,"status":"active","type":"batch","area":"southampton","grade":"warning","grade_reasons":["adulterant nitazene is on the high-risk list","confirmed by toxicology"],"summary":"Nitazene heroin in Southampton.","sold_as":["heroin"],"adulterants":["nitazene"],"advice":"Never use alone.","evidence":"toxicology","scope":"professional","sources":["local:root"],"issued_at":"2026-12-05T07:21:19Z","updated_at":"2026-12-05T07:21:19Z","expires_at":"2026-12-19T07:21:19Z"}','batch','southampton',NULL,NULL);
INSERT INTO alerts VALUES('A2',2,'batchportsmouthdiazepam','active','info',1,1796455279142574,1796455279142574,1797664879142574,'{"id":"A2","revision":1,"status":"active","type":"batch","area":"portsmouth","grade":"info","grade_reasons":["2 casualties","not yet confirmed (reported only)"],"summary":"Blue tablets sold as diazepam in Portsmouth.","sold_as":["diazepam"],"adulterants":[],"evidence":"reported","casualties":2,"scope":"professional","sources":["local:root"],"issued_at":"2026-12-05T07:21:19Z","updated_at":"2026-12-05T07:21:19Z","expires_at":"2026-12-19T07:21:19Z"}','batch','portsmouth',NULL,NULL);
INSERT INTO alerts VALUES('A3',3,'batchsouthamptoncocaine','cancelled','info',2,1796455279157507,1796455279164268,1797664879000000,'{"id":"A3","revision":2,"status":"cancelled","type":"batch","area":"southampton","grade":"info","grade_reasons":["not yet confirmed (reported only)"],"summary":"Cocaine with levamisole.","sold_as":["cocaine"],"adulterants":[],"evidence":"reported","scope":"professional","sources":["local:root"],"issued_at":"2026-12-05T07:21:19Z","updated_at":"2026-12-05T07:21:19Z","expires_at":"2026-12-19T07:21:19Z","cancel_reason":"Lab result was negative."}','batch','southampton',NULL,NULL);
INSERT INTO alerts VALUES('A4',4,'batchsouthamptonketamine','active','info',1,1796455279187516,1796455279245437,1797664879000000,'{"id":"A4","revision":1,"status":"active","type":"batch","area":"southampton","grade":"info","grade_reasons":["not yet confirmed (reported only)"],"summary":"Ketamine cut with a sedative, partner report 1","sold_as":["ketamine"],"adulterants":[],"evidence":"reported","scope":"professional","sources":["portsmouth-ph"],"source_ref":"ref-1","issued_at":"2026-12-05T07:21:19Z","updated_at":"2026-12-05T07:21:19Z","expires_at":"2026-12-19T07:21:19Z"}','batch','southampton',NULL,NULL);
CREATE TABLE revisions (  alert_id TEXT NOT NULL REFERENCES alerts(id),  revision INTEGER NOT NULL,  created_at INTEGER NOT NULL,  json TEXT NOT NULL,  PRIMARY KEY (alert_id, revision));
INSERT INTO revisions VALUES('A1',1,1796455279131969,'{"id":"A1","revision":1,"status":"active","type":"batch","area":"southampton","grade":"warning","grade_reasons":["adulterant nitazene is on the high-risk list","confirmed by toxicology"],"summary":"Nitazene heroin in Southampton.","sold_as":["heroin"],"adulterants":["nitazene"],"evidence":"toxicology","scope":"professional","sources":["local:root"],"issued_at":"2026-12-05T07:21:19Z","updated_at":"2026-12-05T07:21:19Z","expires_at":"2026-12-19T07:21:19Z"}');
INSERT INTO revisions VALUES('A2',1,1796455279142574,'{"id":"A2","revision":1,"status":"active","type":"batch","area":"portsmouth","grade":"info","grade_reasons":["2 casualties","not yet confirmed (reported only)"],"summary":"Blue tablets sold as diazepam in Portsmouth.","sold_as":["diazepam"],"adulterants":[],"evidence":"reported","casualties":2,"scope":"professional","sources":["local:root"],"issued_at":"2026-12-05T07:21:19Z","updated_at":"2026-12-05T07:21:19Z","expires_at":"2026-12-19T07:21:19Z"}');
INSERT INTO revisions VALUES('A1',2,1796455279150075,'{"id":"A1","revision":2,"status":"active","type":"batch","area":"southampton","grade":"warning","grade_reasons":["adulterant nitazene is on the high-risk list","confirmed by toxicology"],"summary":"Nitazene heroin in Southampton.","sold_as":["heroin"],"adulterants":["nitazene"],"advice":"Never use alone.","evidence":"toxicology","scope":"professional","sources":["local:root"],"issued_at":"2026-12-05T07:21:19Z","updated_at":"2026-12-05T07:21:19Z","expires_at":"2026-12-19T07:21:19Z"}');
INSERT INTO revisions VALUES('A3',1,1796455279157507,'{"id":"A3","revision":1,"status":"active","type":"batch","area":"southampton","grade":"info","grade_reasons":["not yet confirmed (reported only)"],"summary":"Cocaine with levamisole.","sold_as":["cocaine"],"adulterants":[],"evidence":"reported","scope":"professional","sources":["local:root"],"issued_at":"2026-12-05T07:21:19Z","updated_at":"2026-12-05T07:21:19Z","expires_at":"2026-12-19T07:21:19Z"}');
INSERT INTO revisions VALUES('A3',2,1796455279164268,'{"id":"A3","revision":2,"status":"cancelled","type":"batch","area":"southampton","grade":"info","grade_reasons":["not yet confirmed (reported only)"],"summary":"Cocaine with levamisole.","sold_as":["cocaine"],"adulterants":[],"evidence":"reported","scope":"professional","sources":["local:root"],"issued_at":"2026-12-05T07:21:19Z","updated_at":"2026-12-05T07:21:19Z","expires_at":"2026-12-19T07:21:19Z","cancel_reason":"Lab result was negative."}');
INSERT INTO revisions VALUES('A4',1,1796455279187516,'{"id":"A4","revision":1,"status":"active","type":"batch","area":"southampton","grade":"info","grade_reasons":["not yet confirmed (reported only)"],"summary":"Ketamine cut with a sedative, partner report 1","sold_as":["ketamine"],"adulterants":[],"evidence":"reported","scope":"professional","sources":["portsmouth-ph"],"source_ref":"ref-1","issued_at":"2026-12-05T07:21:19Z","updated_at":"2026-12-05T07:21:19Z","expires_at":"2026-12-19T07:21:19Z"}');
CREATE TABLE corroborations (  id INTEGER PRIMARY KEY,  alert_id TEXT NOT NULL REFERENCES alerts(id),  source TEXT NOT NULL,  received_at INTEGER NOT NULL,  json TEXT NOT NULL, proposal TEXT, repeats INTEGER NOT NULL DEFAULT 1, last_at INTEGER);
INSERT INTO corroborations VALUES(1,'A4','portsmouth-ph',1796455279224639,'{"revision":0,"status":"active","type":"batch","area":"southampton","grade":"logged","grade_reasons":[],"summary":"Ketamine cut with a sedative, partner report 2","sold_as":["ketamine"],"adulterants":[],"evidence":"reported","scope":"professional","sources":[],"source_ref":"ref-2"}',NULL,1,NULL);
INSERT INTO corroborations VALUES(2,'A4','portsmouth-ph',1796455279245437,'{"revision":0,"status":"active","type":"batch","area":"southampton","grade":"logged","grade_reasons":[],"summary":"Ketamine cut with a sedative, partner report 3","sold_as":["ketamine"],"adulterants":[],"evidence":"reported","scope":"professional","sources":[],"source_ref":"ref-3"}',NULL,1,NULL);
CREATE TABLE submissions (  source TEXT NOT NULL,  source_ref TEXT NOT NULL,  alert_id TEXT NOT NULL REFERENCES alerts(id),  received_at INTEGER NOT NULL,  PRIMARY KEY (source, source_ref));
INSERT INTO submissions VALUES('portsmouth-ph','ref-1','A4',1796455279187516);
INSERT INTO submissions VALUES('portsmouth-ph','ref-2','A4',1796455279224639);
INSERT INTO submissions VALUES('portsmouth-ph','ref-3','A4',1796455279245437);
CREATE TABLE audit (  id INTEGER PRIMARY KEY,  at INTEGER NOT NULL,  actor TEXT NOT NULL,  action TEXT NOT NULL,  alert_id TEXT,  detail TEXT);
INSERT INTO audit VALUES(1,1796455279131969,'uid 0 (root)','issue','A1','warning batch in southampton from local:root');
INSERT INTO audit VALUES(2,1796455279142574,'uid 0 (root)','issue','A2','info batch in portsmouth from local:root');
INSERT INTO audit VALUES(3,1796455279150075,'uid 0 (root)','update','A1','revision 2, grade warning');
INSERT INTO audit VALUES(4,1796455279157507,'uid 0 (root)','issue','A3','info batch in southampton from local:root');
INSERT INTO audit VALUES(5,1796455279164268,'uid 0 (root)','cancel','A3','Lab result was negative.');
INSERT INTO audit VALUES(6,1796455279187516,'http:portsmouth-ph','issue','A4','info batch in southampton from portsmouth-ph');
INSERT INTO audit VALUES(7,1796455279224639,'http:portsmouth-ph','corroborate','A4','report from portsmouth-ph corroborates; grade info -> info');
INSERT INTO audit VALUES(8,1796455279245437,'http:portsmouth-ph','corroborate','A4','report from portsmouth-ph corroborates; grade info -> info');
CREATE TABLE acks (  id INTEGER PRIMARY KEY,  alert_id TEXT NOT NULL REFERENCES alerts(id),  revision INTEGER NOT NULL,  subscriber TEXT NOT NULL,  via TEXT NOT NULL,  by TEXT NOT NULL,  at INTEGER NOT NULL,  UNIQUE (alert_id, subscriber, via, by, revision));
CREATE TABLE sms_optouts (  number TEXT PRIMARY KEY,  via TEXT NOT NULL,  since INTEGER NOT NULL);
CREATE TABLE twilio_requests (  sid TEXT NOT NULL,  kind TEXT NOT NULL,  seen_at INTEGER NOT NULL,  keep_until INTEGER NOT NULL,  PRIMARY KEY (sid, kind));
CREATE TABLE clusters (  id TEXT PRIMARY KEY REFERENCES alerts(id),  reports INTEGER NOT NULL);
CREATE TABLE proposals (  id TEXT PRIMARY KEY,  seq INTEGER NOT NULL UNIQUE,  alert_id TEXT NOT NULL REFERENCES alerts(id),  corroboration INTEGER NOT NULL REFERENCES corroborations(id),  source TEXT NOT NULL,  status TEXT NOT NULL,  grade_from TEXT NOT NULL,  grade_to TEXT NOT NULL,  created_at INTEGER NOT NULL,  decided_at INTEGER,  decided_by TEXT,  reason TEXT,  json TEXT NOT NULL);
CREATE TABLE merged (  alert_id TEXT PRIMARY KEY REFERENCES alerts(id),  reports INTEGER NOT NULL,  evidence TEXT NOT NULL,  casualties INTEGER,  fatalities INTEGER,  adulterants TEXT NOT NULL);
INSERT INTO merged VALUES('A4',2,'reported',NULL,NULL,'[]');
CREATE TABLE IF NOT EXISTS "outbox" (  id INTEGER PRIMARY KEY,  alert_id TEXT NOT NULL REFERENCES alerts(id),  revision INTEGER NOT NULL,  subscriber TEXT NOT NULL,  channel TEXT NOT NULL,  recipient TEXT NOT NULL,  action TEXT NOT NULL,  state TEXT NOT NULL DEFAULT 'pending',  attempts INTEGER NOT NULL DEFAULT 0,  next_at INTEGER NOT NULL DEFAULT 0,  last_error TEXT,  created_at INTEGER NOT NULL,  updated_at INTEGER NOT NULL,  purpose TEXT NOT NULL DEFAULT 'alert',  about TEXT NOT NULL DEFAULT '',  UNIQUE (alert_id, revision, subscriber, channel, recipient, purpose, about));
INSERT INTO outbox VALUES(1,'A1',1,'','mqtt','dawn/v1/alerts/pan-hampshire/southampton/A1','publish','delivered',1,0,NULL,1796455279131969,1796455279137661,'alert','');
INSERT INTO outbox VALUES(2,'A1',1,'booth-house','mqtt','dawn/v1/subscribers/booth-house/alerts/A1','publish','delivered',1,0,NULL,1796455279131969,1796455279137833,'alert','');
INSERT INTO outbox VALUES(3,'A1',1,'st-marys-pharmacy','mqtt','dawn/v1/subscribers/st-marys-pharmacy/alerts/A1','publish','delivered',1,0,NULL,1796455279131969,1796455279137842,'alert','');
INSERT INTO outbox VALUES(4,'A1',1,'rough-sleeper-outreach','mqtt','dawn/v1/subscribers/rough-sleeper-outreach/alerts/A1','publish','delivered',1,0,NULL,1796455279131969,1796455279137848,'alert','');
INSERT INTO outbox VALUES(5,'A1',1,'recovery-service','mqtt','dawn/v1/subscribers/recovery-service/alerts/A1','publish','delivered',1,0,NULL,1796455279131969,1796455279137865,'alert','');
INSERT INTO outbox VALUES(6,'A1',1,'ph-duty-officer','mqtt','dawn/v1/subscribers/ph-duty-officer/alerts/A1','publish','delivered',1,0,NULL,1796455279131969,1796455279137869,'alert','');
INSERT INTO outbox VALUES(7,'A2',1,'','mqtt','dawn/v1/alerts/pan-hampshire/portsmouth/A2','publish','delivered',1,0,NULL,1796455279142574,1796455279144884,'alert','');
INSERT INTO outbox VALUES(8,'A2',1,'ph-duty-officer','mqtt','dawn/v1/subscribers/ph-duty-officer/alerts/A2','publish','delivered',1,0,NULL,1796455279142574,1796455279151690,'alert','');
INSERT INTO outbox VALUES(9,'A1',2,'','mqtt','dawn/v1/alerts/pan-hampshire/southampton/A1','publish','delivered',1,0,NULL,1796455279150075,1796455279151703,'alert','');
INSERT INTO outbox VALUES(10,'A1',2,'booth-house','mqtt','dawn/v1/subscribers/booth-house/alerts/A1','publish','delivered',1,0,NULL,1796455279150075,1796455279151709,'alert','');
INSERT INTO outbox VALUES(11,'A1',2,'st-marys-pharmacy','mqtt','dawn/v1/subscribers/st-marys-pharmacy/alerts/A1','publish','delivered',1,0,NULL,1796455279150075,1796455279151713,'alert','');
INSERT INTO outbox VALUES(12,'A1',2,'rough-sleeper-outreach','mqtt','dawn/v1/subscribers/rough-sleeper-outreach/alerts/A1','publish','delivered',1,0,NULL,1796455279150075,1796455279158568,'alert','');
INSERT INTO outbox VALUES(13,'A1',2,'recovery-service','mqtt','dawn/v1/subscribers/recovery-service/alerts/A1','publish','delivered',1,0,NULL,1796455279150075,1796455279158580,'alert','');
INSERT INTO outbox VALUES(14,'A1',2,'ph-duty-officer','mqtt','dawn/v1/subscribers/ph-duty-officer/alerts/A1','publish','delivered',1,0,NULL,1796455279150075,1796455279158588,'alert','');
INSERT INTO outbox VALUES(15,'A3',1,'','mqtt','dawn/v1/alerts/pan-hampshire/southampton/A3','publish','delivered',1,0,NULL,1796455279157507,1796455279159698,'alert','');
INSERT INTO outbox VALUES(16,'A3',1,'ph-duty-officer','mqtt','dawn/v1/subscribers/ph-duty-officer/alerts/A3','publish','delivered',1,0,NULL,1796455279157507,1796455279165451,'alert','');
INSERT INTO outbox VALUES(17,'A3',2,'','mqtt','dawn/v1/alerts/pan-hampshire/southampton/A3','withdraw','delivered',1,0,NULL,1796455279164268,1796455279200754,'alert','');
INSERT INTO outbox VALUES(18,'A3',2,'ph-duty-officer','mqtt','dawn/v1/subscribers/ph-duty-officer/alerts/A3','withdraw','delivered',1,0,NULL,1796455279164268,1796455279200778,'alert','');
INSERT INTO outbox VALUES(19,'A4',1,'','mqtt','dawn/v1/alerts/pan-hampshire/southampton/A4','publish','delivered',1,0,NULL,1796455279187516,1796455279200785,'alert','');
INSERT INTO outbox VALUES(20,'A4',1,'ph-duty-officer','mqtt','dawn/v1/subscribers/ph-duty-officer/alerts/A4','publish','delivered',1,0,NULL,1796455279187516,1796455279200866,'alert','');
CREATE TABLE escalations (  alert_id TEXT NOT NULL REFERENCES alerts(id),  subscriber TEXT NOT NULL,  started_at INTEGER NOT NULL,  due_at INTEGER NOT NULL,  state TEXT NOT NULL DEFAULT 'waiting',  decided_at INTEGER,  detail TEXT,  PRIMARY KEY (alert_id, subscriber));
CREATE TABLE public_subscribers (  number TEXT NOT NULL,  area TEXT NOT NULL,  joined_at INTEGER NOT NULL,  PRIMARY KEY (number, area));
CREATE TABLE public_joins (  number TEXT NOT NULL,  day INTEGER NOT NULL,  joins INTEGER NOT NULL,  PRIMARY KEY (number, day));
CREATE TABLE delivery_totals (  alert_id TEXT NOT NULL REFERENCES alerts(id),  channel TEXT NOT NULL,  purpose TEXT NOT NULL,  state TEXT NOT NULL,  deliveries INTEGER NOT NULL,  PRIMARY KEY (alert_id, channel, purpose, state));
CREATE TABLE delivery_times (  alert_id TEXT NOT NULL REFERENCES alerts(id),  channel TEXT NOT NULL,  usec INTEGER NOT NULL);
CREATE TABLE sms_replies (  id INTEGER PRIMARY KEY,  number TEXT NOT NULL,  body TEXT NOT NULL,  kind TEXT NOT NULL DEFAULT 'reply',  state TEXT NOT NULL DEFAULT 'pending',  attempts INTEGER NOT NULL DEFAULT 0,  next_at INTEGER NOT NULL DEFAULT 0,  last_error TEXT,  created_at INTEGER NOT NULL,  updated_at INTEGER NOT NULL);
CREATE INDEX alerts_by_fingerprint ON alerts(fingerprint, status, updated_at);
CREATE INDEX corroborations_by_alert ON corroborations(alert_id);
CREATE INDEX alerts_by_expiry ON alerts(expires_at) WHERE status IN ('active', 'pending');
CREATE INDEX alerts_by_type ON alerts(type, updated_at);
CREATE INDEX twilio_requests_by_age ON twilio_requests(keep_until);
CREATE INDEX alerts_open_by_area ON alerts(type, area, updated_at) WHERE status IN ('active', 'pending');
CREATE INDEX reports_unclustered ON alerts(area, updated_at)  WHERE type = 'nfod' AND cluster_id IS NULL AND status IN ('active', 'pending', 'expired');
CREATE INDEX proposals_waiting ON proposals(alert_id) WHERE status = 'pending';
CREATE INDEX corroborations_by_source ON corroborations(alert_id, source);
CREATE INDEX outbox_waiting ON outbox(channel, next_at) WHERE state IN ('pending', 'retrying');
CREATE INDEX outbox_by_state ON outbox(channel, state);
CREATE INDEX escalations_due ON escalations(due_at) WHERE state = 'waiting';
CREATE INDEX public_subscribers_by_area ON public_subscribers(area);
CREATE INDEX alerts_ended ON alerts(updated_at)  WHERE status IN ('cancelled', 'expired') AND pruned_at IS NULL;
CREATE INDEX delivery_times_by_alert ON delivery_times(alert_id);
CREATE INDEX audit_by_alert ON audit(alert_id, at);
CREATE INDEX audit_by_time ON audit(at);
CREATE INDEX sms_replies_due ON sms_replies(next_at) WHERE state IN ('pending', 'retrying');
CREATE INDEX sms_replies_by_number ON sms_replies(number, created_at);
CREATE INDEX sms_replies_ended ON sms_replies(updated_at)  WHERE state NOT IN ('pending', 'retrying', 'in-flight');
COMMIT;
PRAGMA user_version = 9;
