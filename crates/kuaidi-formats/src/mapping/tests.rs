//! Mapped CSV reading: a partner's columns, values and time format become Kuaidi records; mappings that do not fit
//! fail naming the column or field.

use kuaidi_model::Record;

use super::*;

const MAPPING: &str = r#"
kind = "events"
time_format = "%Y/%m/%d %H:%M"
[columns]
waybill_no = "运单号"
event_id = "流水号"
kind = "操作"
time = "扫描时间"
facility = "网点编码"
[constants]
carrier = "yto"
[values.kind]
"收件" = "accept"
"发件" = "depart"
"#;

const FILE: &str = "流水号,运单号,操作,扫描时间,网点编码,备注\n\
    s1,YT1234567890,收件,2026/11/11 09:05,YTO-1,无\n\
    s2,YT1234567890,到件,2026/11/11 13:00,YTO-2,\n\
    s3,YT1234567890,发件,11-11 14:00,YTO-2,\n";

fn read(mapping: &str, file: &str) -> Result<Vec<Line>, DecodeError> {
    let mapping = CsvMapping::parse(mapping)?;
    Ok(read_csv_mapped(file.as_bytes(), &mapping)?.collect())
}

#[test]
fn partner_columns_values_and_times_are_mapped() {
    let lines = read(MAPPING, FILE).unwrap();
    let Ok(Record::Event(first)) = &lines[0].record else { panic!("{:?}", lines[0].record) };
    assert_eq!(
        (first.event_id.as_str(), first.carrier.as_str(), first.kind.as_str(), first.facility.as_str()),
        ("s1", "yto", "accept", "YTO-1")
    );
    assert_eq!(first.time.to_rfc3339(), "2026-11-11T09:05:00+08:00");
    assert_eq!(lines[0].number, 2);
    // `到件` has no translation and is not a Kuaidi kind, so the row is rejected at `kind`.
    match &lines[1].record {
        Err(DecodeError::Field(err)) => assert_eq!((err.field(), err.value()), ("kind", Some("到件"))),
        other => panic!("{other:?}"),
    }
    match &lines[2].record {
        Err(DecodeError::Field(err)) => {
            assert_eq!((err.field(), err.value()), ("time (column `扫描时间`)", Some("11-11 14:00")));
            assert!(err.to_string().contains("%Y/%m/%d %H:%M"), "{err}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn times_with_offsets_and_rfc3339_are_kept() {
    let mapping = MAPPING.replace("%Y/%m/%d %H:%M", "%Y/%m/%d %H:%M %z");
    let file = "流水号,运单号,操作,扫描时间,网点编码\ns1,YT1234567890,收件,2026/11/11 09:05 -0500,YTO-1\n";
    let lines = read(&mapping, file).unwrap();
    let Ok(Record::Event(event)) = &lines[0].record else { panic!("{:?}", lines[0].record) };
    assert_eq!(event.time.to_rfc3339(), "2026-11-11T09:05:00-05:00");
    let without_format = MAPPING.replace("time_format = \"%Y/%m/%d %H:%M\"\n", "");
    let file = "流水号,运单号,操作,扫描时间,网点编码\ns1,YT1234567890,收件,2026-11-11T09:05:00+08:00,YTO-1\n";
    assert!(read(&without_format, file).unwrap()[0].record.is_ok());
}

#[test]
fn a_mapping_that_does_not_fit_names_the_column() {
    let err = read(MAPPING, "流水号,单号,操作,扫描时间,网点编码\n").err().unwrap();
    let message = err.to_string();
    assert!(message.contains("`运单号`") && message.contains("`waybill_no`") && message.contains("单号"), "{message}");
}

#[test]
fn malformed_mappings_are_named() {
    let cases = [
        ("kind = \"parcels\"", "`parcels`"),
        ("kind = \"events\"\n[columns]\nwaybill = \"运单号\"", "`waybill`"),
        ("kind = \"events\"\n[constants]\nsender_name = \"x\"", "`sender_name`"),
        ("kind = \"events\"\n[values.colour]\n\"a\" = \"b\"", "values.colour"),
        ("kind = \"events\"\n[columns]\ncarrier = \"c\"\n[constants]\ncarrier = \"yto\"", "`carrier`"),
        ("kind = \"events\"\nutc_offset = \"CST\"", "`CST`"),
        ("kind = \"events\"\ncolumn = {}", "column"),
        ("kind = ", "not valid"),
    ];
    for (text, expected) in cases {
        let err = CsvMapping::parse(text).unwrap_err();
        assert!(matches!(err, DecodeError::Mapping(_)), "{err:?}");
        assert!(err.to_string().contains(expected), "{text}: {err}");
    }
}

#[test]
fn waybills_map_nested_fields() {
    let mapping = r#"
kind = "waybills"
time_format = "%Y-%m-%d %H:%M:%S"
[columns]
waybill_no = "单号"
created_at = "下单时间"
sender_name = "寄件人"
sender_phone = "寄件电话"
sender_division = "寄件区划"
sender_address = "寄件地址"
receiver_name = "收件人"
receiver_phone = "收件电话"
receiver_division = "收件区划"
receiver_address = "收件地址"
contents_category = "品类"
contents_description = "品名"
contents_weight_grams = "重量克"
contents_declared_value_fen = "保价分"
[constants]
carrier = "yto"
product = "standard"
"#;
    let file = "单号,下单时间,寄件人,寄件电话,寄件区划,寄件地址,收件人,收件电话,收件区划,收件地址,品类,品名,重量克,保价分\n\
        YT1234567890,2026-11-11 08:50:00,张三,13800131234,320505,科技城路 1 号,李四,13900135678,310101,南京东路 1 号,服装,T恤,500,9900\n";
    let lines = read(mapping, file).unwrap();
    let Ok(Record::Waybill(waybill)) = &lines[0].record else { panic!("{:?}", lines[0].record) };
    assert_eq!((waybill.sender.name.as_str(), waybill.contents.weight_grams), ("张三", 500));
    assert_eq!(waybill.created_at.to_rfc3339(), "2026-11-11T08:50:00+08:00");
}
