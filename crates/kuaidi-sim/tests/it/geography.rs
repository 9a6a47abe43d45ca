//! Reading the geography: the shared file gives the 41 cities; a malformed file gives an error naming the problem.

use kuaidi_sim::Geography;

use crate::support::geo;

#[test]
fn shared_file_has_41_cities() {
    let Some(geo) = geo() else { return };
    let cities = geo.cities();
    assert_eq!(cities.len(), 41);
    for city in cities {
        let province = city.code.as_u32() / 10_000;
        assert!([31, 32, 33, 34].contains(&province), "{}", city.code);
        assert!(city.population > 1_000_000, "{} {}", city.name_zh, city.population);
    }
    let shanghai = cities.iter().find(|c| c.code.to_string() == "310100").unwrap();
    assert_eq!(shanghai.name_en, "Shanghai");
    assert!(shanghai.population > 24_000_000);
}

#[test]
fn malformed_files_name_the_problem() {
    let cases = [
        ("", "no `adcode` column"),
        ("not,a,geography\n1,2,3\n", "no `adcode` column"),
        (
            "adcode,name_zh,name_en,longitude,latitude\n320500,苏州市,Suzhou,120.6,31.3\n",
            "no `population_2020_census` column",
        ),
        ("adcode,name_zh,name_en,longitude,latitude,population_2020_census\n", "lists no cities"),
        (
            "adcode,name_zh,name_en,longitude,latitude,population_2020_census\n320500,苏州市,Suzhou,120.6,31.3,lots\n",
            "bad `population_2020_census` on line 2: `lots`",
        ),
        (
            "adcode,name_zh,name_en,longitude,latitude,population_2020_census\n320500,苏州市,Suzhou,120.6\n",
            "while reading the geography csv",
        ),
    ];
    for (text, expected) in cases {
        let err = Geography::from_csv(text.as_bytes()).unwrap_err().to_string();
        assert!(err.contains(expected), "{err:?} should contain {expected:?}");
    }
}

#[test]
fn a_small_geography_without_park_cities_still_runs() {
    let text = "adcode,name_zh,name_en,longitude,latitude,population_2020_census\n\
                320500,苏州市,Suzhou,120.585315,31.298886,12748262\n\
                341300,宿州市,Suzhou,116.984084,33.633891,5324476\n";
    let geo = Geography::from_csv(text.as_bytes()).unwrap();
    let config = kuaidi_sim::SimConfig::new(crate::support::start(), 1, 500, 3);
    let sim = kuaidi_sim::Simulation::new(&geo, config).unwrap();
    assert!(sim.facilities().iter().any(|f| f.code.as_str() == "ZTO-HUB-320500"));
    let stats = sim.run(|_| {}, |_| {});
    assert!(stats.events > 1_000, "{stats:?}");
}
