//! Plausible personal data for waybills: Chinese names, mobile numbers, street addresses, resident ID numbers with a
//! correct GB 11643 check digit, and declared contents.
//!
//! All of it is invented: names are a common surname plus one or two common given-name characters, mobile numbers
//! are `13x`, `15x` or `18x` followed by eight random digits, and an ID number joins the sender's district code, a
//! birth date between 1955 and 2004, a sequence number and the check digit.
//! About one sender in five is an online shop, named like `杭州优品电子商务有限公司`.

use std::fmt::Write as _;

use kuaidi_model::AdminCode;
use rand::Rng;

use crate::random::SimRng;

const SURNAMES: [&str; 50] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林",
    "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾", "肖", "田", "董", "袁", "潘", "于",
    "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁", "任", "沈",
];

const GIVEN: [&str; 60] = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀", "霞",
    "平", "刚", "桂", "英", "华", "玉", "萍", "红", "玲", "芬", "建", "文", "辉", "力", "斌", "宇", "浩", "凯", "鹏",
    "晨", "欣", "怡", "梓", "涵", "子", "轩", "雨", "佳", "思", "睿", "博", "俊", "嘉", "一", "诺", "婷", "雪", "梅",
    "琳", "晓", "丹",
];

const SHOP_WORDS: [&str; 16] = [
    "优品", "云仓", "乐购", "鑫源", "华彩", "佳禾", "美途", "星辰", "万家", "博雅", "恒信", "锦绣", "天虹", "新锐",
    "悦享", "同创",
];

const ROADS: [&str; 24] = [
    "人民路",
    "解放路",
    "中山路",
    "建设路",
    "和平路",
    "新华路",
    "文化路",
    "长江路",
    "黄河路",
    "延安路",
    "学院路",
    "工业园路",
    "湖滨路",
    "青年路",
    "胜利路",
    "幸福路",
    "光明路",
    "振兴路",
    "东风路",
    "环城北路",
    "滨江大道",
    "科技路",
    "世纪大道",
    "创业路",
];

const COMMUNITIES: [&str; 12] =
    ["阳光", "锦绣", "翠苑", "金色家园", "紫金", "香樟", "春江", "梧桐", "东湖", "西溪", "明珠", "和园"];

/// A declared-contents category with its usual items, weight range in grams and value range in yuan.
struct Category {
    name: &'static str,
    items: &'static [&'static str],
    grams: (u32, u32),
    yuan: (u64, u64),
}

const CATEGORIES: [Category; 10] = [
    Category {
        name: "服装",
        items: &["T恤", "连衣裙", "羽绒服", "牛仔裤", "运动鞋", "衬衫"],
        grams: (200, 1500),
        yuan: (39, 599),
    },
    Category {
        name: "电子产品",
        items: &["手机壳", "数据线", "蓝牙音箱", "键盘", "鼠标", "耳机"],
        grams: (50, 1200),
        yuan: (19, 899),
    },
    Category {
        name: "日用品",
        items: &["毛巾", "收纳盒", "保温杯", "洗衣液", "纸巾"],
        grams: (100, 5000),
        yuan: (9, 199),
    },
    Category {
        name: "食品",
        items: &["茶叶", "坚果礼盒", "月饼", "大米", "零食"],
        grams: (250, 10_000),
        yuan: (19, 399),
    },
    Category {
        name: "化妆品", items: &["面霜", "洗面奶", "口红", "面膜"], grams: (50, 800), yuan: (29, 899)
    },
    Category { name: "图书", items: &["图书", "教材", "杂志"], grams: (200, 3000), yuan: (15, 300) },
    Category { name: "文件", items: &["合同文件", "票据", "证书"], grams: (20, 500), yuan: (0, 0) },
    Category {
        name: "小商品", items: &["发饰", "文具", "玩具", "饰品", "钥匙扣"], grams: (30, 2000), yuan: (5, 199)
    },
    Category { name: "母婴", items: &["纸尿裤", "奶瓶", "婴儿服"], grams: (100, 6000), yuan: (29, 399) },
    Category {
        name: "家居", items: &["床上四件套", "抱枕", "窗帘", "台灯"], grams: (300, 8000), yuan: (39, 699)
    },
];

/// Prohibited items (禁寄物品) a sender may declare: the screening keyword, a plausible category and the description.
pub(crate) const PROHIBITED: [(&str, &str, &str); 5] = [
    ("锂电池", "电子产品", "散装锂电池 20节"),
    ("管制刀具", "日用品", "管制刀具（弹簧刀） 1把"),
    ("烟花爆竹", "节庆用品", "烟花爆竹 1箱"),
    ("农药", "农资", "农药（敌敌畏） 2瓶"),
    ("仿真枪", "玩具", "仿真枪 1把"),
];

/// A person's or shop's name.
pub(crate) fn name(rng: &mut SimRng, shop_city: Option<&str>) -> String {
    if let Some(city) = shop_city {
        let word = SHOP_WORDS[rng.random_range(0..SHOP_WORDS.len())];
        return format!("{city}{word}电子商务有限公司");
    }
    let mut name = String::with_capacity(9);
    name.push_str(SURNAMES[rng.random_range(0..SURNAMES.len())]);
    name.push_str(GIVEN[rng.random_range(0..GIVEN.len())]);
    if rng.random_bool(0.7) {
        name.push_str(GIVEN[rng.random_range(0..GIVEN.len())]);
    }
    name
}

/// An 11-digit mobile number starting `13x`, `15x` or `18x`.
pub(crate) fn mobile(rng: &mut SimRng) -> String {
    let second = [b'3', b'5', b'8'][rng.random_range(0..3)];
    let mut phone = String::with_capacity(11);
    phone.push('1');
    phone.push(char::from(second));
    for _ in 0..9 {
        phone.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    phone
}

/// A street address below the district level: a road and number, then a building and room or a housing estate.
pub(crate) fn address_detail(rng: &mut SimRng) -> String {
    let mut detail = String::with_capacity(48);
    let road = ROADS[rng.random_range(0..ROADS.len())];
    let number = rng.random_range(1..=999);
    if rng.random_bool(0.5) {
        let _ = write!(detail, "{road}{number}号{}幢{}室", rng.random_range(1..=30), room(rng));
    } else {
        let community = COMMUNITIES[rng.random_range(0..COMMUNITIES.len())];
        let _ = write!(detail, "{road}{number}号{community}小区{}栋{}室", rng.random_range(1..=40), room(rng));
    }
    detail
}

fn room(rng: &mut SimRng) -> u32 {
    rng.random_range(1..=28) * 100 + rng.random_range(1..=6)
}

/// A resident ID number: the district code, a birth date, a sequence number and the GB 11643 check character.
pub(crate) fn resident_id(rng: &mut SimRng, district: AdminCode) -> String {
    let mut number = String::with_capacity(18);
    let _ = write!(
        number,
        "{district}{:04}{:02}{:02}{:03}",
        rng.random_range(1955..=2004),
        rng.random_range(1..=12),
        rng.random_range(1..=28),
        rng.random_range(1..=999),
    );
    number.push(resident_id_check(number.as_bytes()));
    number
}

/// The GB 11643-1999 (ISO 7064 MOD 11-2) check character of the first 17 digits.
pub(crate) fn resident_id_check(digits: &[u8]) -> char {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let sum: u32 = digits.iter().zip(WEIGHTS).map(|(b, w)| u32::from(b.wrapping_sub(b'0')) * w).sum();
    char::from(CHECK[(sum % 11) as usize])
}

/// A passport number in the style of Chinese ordinary passports: `E` and eight digits.
pub(crate) fn passport(rng: &mut SimRng) -> String {
    format!("E{:08}", rng.random_range(0..100_000_000u32))
}

/// Declared contents: category, description, weight in grams and value in fen.
pub(crate) fn contents(rng: &mut SimRng) -> (&'static str, String, u32, u64) {
    let category = &CATEGORIES[rng.random_range(0..CATEGORIES.len())];
    let item = category.items[rng.random_range(0..category.items.len())];
    let count = if rng.random_bool(0.8) { 1 } else { rng.random_range(2..=5) };
    let description = format!("{item} {count}件");
    let grams = rng.random_range(category.grams.0..=category.grams.1);
    let yuan = rng.random_range(category.yuan.0..=category.yuan.1) * count;
    (category.name, description, grams, yuan * 100)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn check_digit_matches_public_specimens() {
        assert_eq!(resident_id_check(b"11010519491231002"), 'X');
        assert_eq!(resident_id_check(b"44052418800101001"), '4');
    }

    #[test]
    fn generated_values_have_the_right_form() {
        let mut rng = SimRng::seed_from_u64(1);
        let district = AdminCode::parse("320505").unwrap();
        for _ in 0..1000 {
            let phone = mobile(&mut rng);
            assert_eq!(phone.len(), 11);
            assert!(["13", "15", "18"].contains(&&phone[..2]), "{phone}");
            let id = resident_id(&mut rng, district);
            assert_eq!(id.len(), 18);
            assert!(id.starts_with("320505"));
            let name = name(&mut rng, None);
            assert!((2..=3).contains(&name.chars().count()), "{name}");
            assert!(address_detail(&mut rng).chars().count() <= 200);
        }
    }
}
