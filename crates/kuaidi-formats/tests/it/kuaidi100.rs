//! The real Kuaidi100 traces in `../shared/data/express_traces/` read into the scan events a person reading them
//! would write down.

use kuaidi_formats::kuaidi100::{read_push, Entry, State};
use kuaidi_model::{EventKind, ScanEvent, Signer};
use serde_json::{json, Value};

use crate::support::shared;

fn load(name: &str) -> Option<Value> {
    let dir = shared("data/express_traces")?;
    let text = std::fs::read_to_string(dir.join(name)).unwrap();
    Some(serde_json::from_str(&text).unwrap())
}

fn events(entries: &[Entry]) -> Vec<&ScanEvent> {
    entries
        .iter()
        .map(|e| match e {
            Entry::Event(event) => &**event,
            other => panic!("every real entry is a scan, got {other:?}"),
        })
        .collect()
}

fn summary(events: &[&ScanEvent]) -> Vec<(String, EventKind, String, Option<Signer>)> {
    events.iter().map(|e| (e.time.to_rfc3339(), e.kind, e.facility.to_string(), e.signer)).collect()
}

#[test]
fn suzhou_to_wuxi_trace() {
    let Some(data) = load("kuaidi100_yto_suzhou_to_wuxi_2021-12-15_events.json") else { return };
    // The file holds only the entries; the app that pasted them did not keep the number.
    let push = read_push(&json!({"com": "yuantong", "nu": "YT0000000001", "data": data})).unwrap();
    let events = events(&push.entries);
    use EventKind::*;
    assert_eq!(
        summary(&events),
        [
            ("2021-12-15T20:15:14+08:00".into(), Depart, "k100.yuantong.320500.hub".into(), None),
            ("2021-12-15T20:11:25+08:00".into(), Arrive, "k100.yuantong.320500.hub".into(), None),
            ("2021-12-15T19:18:27+08:00".into(), Arrive, "k100.yuantong.320200.outlet".into(), None),
            ("2021-12-15T17:10:09+08:00".into(), Accept, "k100.yuantong.320507.outlet".into(), None),
        ]
    );
    let names: Vec<&str> = push.facilities.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "yuantong 江苏省无锡市网点 (快递100)",
            "yuantong 江苏省苏州市转运中心 (快递100)",
            "yuantong 江苏省苏州市相城区网点 (快递100)",
        ]
    );
}

#[test]
fn tangshan_to_jinan_trace() {
    let Some(response) = load("kuaidi100_yto_tangshan_to_jinan_2021-06_response.json") else { return };
    let push = read_push(&response["dataInfo"]["queryTrackMapResp"]).unwrap();
    assert_eq!((push.carrier.as_str(), push.waybill_no.as_str()), ("yuantong", "YT5555508965056"));
    assert_eq!(push.state.map(|s| s.state), Some(State::Signed));
    let events = events(&push.entries);
    use EventKind::*;
    assert_eq!(
        summary(&events),
        [
            (
                "2021-06-14T17:31:57+08:00".into(),
                Delivered,
                "k100.yuantong.370112.station".into(),
                Some(Signer::Station)
            ),
            ("2021-06-14T13:53:38+08:00".into(), IntoLocker, "k100.yuantong.370112.station".into(), None),
            ("2021-06-14T12:13:56+08:00".into(), Arrive, "k100.yuantong.370112.outlet".into(), None),
            ("2021-06-14T11:41:58+08:00".into(), OutForDelivery, "k100.yuantong.370112.outlet".into(), None),
            ("2021-06-14T06:18:01+08:00".into(), Depart, "k100.yuantong.370100.hub".into(), None),
            ("2021-06-14T06:15:03+08:00".into(), Arrive, "k100.yuantong.370100.hub".into(), None),
            ("2021-06-13T20:11:22+08:00".into(), Depart, "k100.yuantong.120000.hub".into(), None),
            ("2021-06-13T20:08:29+08:00".into(), Arrive, "k100.yuantong.120000.hub".into(), None),
            ("2021-06-13T13:03:42+08:00".into(), Accept, "k100.yuantong.130209.outlet".into(), None),
        ]
    );
    // Phone numbers and couriers' names in the context never reach the events.
    let shown = format!("{:?}", push);
    for secret in ["8021", "1890", "方*", "刘**", "1332"] {
        assert!(!shown.contains(secret), "{secret} leaked");
    }
}
