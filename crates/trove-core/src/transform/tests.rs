use super::*;

fn parse(q: &str) -> Result<Option<Transform>, TroveError> {
    let pairs: Vec<(&str, &str)> = q
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    Transform::from_query(pairs, &["download"])
}

#[test]
fn no_parameter_is_no_transformation() {
    assert_eq!(parse("").unwrap(), None);
    assert_eq!(parse("download=1").unwrap(), None);
}

#[test]
fn every_parameter_is_bounded_and_named_when_refused() {
    for (q, name) in [
        ("w=0", "`w`"),
        ("w=4097", "`w`"),
        ("w=-1", "`w`"),
        ("w=+5", "`w`"),
        ("h=abc", "`h`"),
        ("q=0", "`q`"),
        ("q=101", "`q`"),
        ("fit=stretch", "`fit`"),
        ("format=avif", "`format`"),
        ("f=gif", "`f`"),
        ("blur=0.2", "`blur`"),
        ("b=101", "`b`"),
        ("blur=NaN", "`blur`"),
        ("enlarge=yes", "`enlarge`"),
        ("width=10", "`width`"),
        ("w=1&w=2", "`w`"),
        ("format=png&f=png", "`f`"),
    ] {
        let e = parse(q).unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::InvalidRequest, "{q}");
        assert!(e.message.contains(name), "{q}: {}", e.message);
    }
    let t = parse("w=4096&h=1&q=100&blur=100&fit=fill&enlarge=true&f=webp")
        .unwrap()
        .unwrap();
    assert_eq!((t.width, t.height, t.quality), (Some(4096), Some(1), 100));
    assert_eq!(t.format, FormatChoice::Exactly(ImageFormat::Webp));
    assert_eq!(t.blur_sigma(), Some(100.0));
}

#[test]
fn the_normalised_form_ignores_order_names_and_what_does_not_apply() {
    let a = parse("w=256&h=256&fit=cover&format=webp&q=80")
        .unwrap()
        .unwrap();
    let b = parse("f=webp&fit=cover&h=256&w=256").unwrap().unwrap();
    assert_eq!(
        a.normalized(ImageFormat::Webp),
        b.normalized(ImageFormat::Webp)
    );
    // Quality means nothing to PNG, fit nothing to one side.
    let c = parse("w=10&q=5&fit=cover").unwrap().unwrap();
    let d = parse("w=10").unwrap().unwrap();
    assert_eq!(
        c.normalized(ImageFormat::Png),
        d.normalized(ImageFormat::Png)
    );
    assert_ne!(
        c.normalized(ImageFormat::Jpeg),
        d.normalized(ImageFormat::Jpeg)
    );
    assert_ne!(
        a.normalized(ImageFormat::Webp),
        a.normalized(ImageFormat::Png)
    );
    // A query rebuilt from a transformation asks for the same one.
    for q in [
        "w=256&h=100&fit=contain&format=auto&q=5&blur=2.5&enlarge=1",
        "h=3",
    ] {
        let t = parse(q).unwrap().unwrap();
        assert_eq!(parse(&t.to_query()).unwrap(), Some(t), "{q}");
    }
}

#[test]
fn auto_is_webp_only_for_clients_that_name_it() {
    let t = parse("format=auto").unwrap().unwrap();
    let browser = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8";
    assert_eq!(
        t.output(ImageFormat::Jpeg, Some(browser)),
        ImageFormat::Webp
    );
    assert_eq!(t.output(ImageFormat::Jpeg, Some("*/*")), ImageFormat::Jpeg);
    assert_eq!(t.output(ImageFormat::Png, None), ImageFormat::Png);
    assert_eq!(
        t.output(ImageFormat::Png, Some("image/webp;q=0, image/png")),
        ImageFormat::Png
    );
    let same = parse("w=1").unwrap().unwrap();
    assert_eq!(
        same.output(ImageFormat::Gif, Some(browser)),
        ImageFormat::Gif
    );
}

#[test]
fn fits_place_the_pixels_as_named() {
    let t = |q: &str| parse(q).unwrap().unwrap();
    // 4000 × 3000 into 256 × 256.
    let g = t("w=256&h=256").geometry(4000, 3000);
    assert_eq!((g.size, g.canvas), ((256, 192), None));
    let g = t("w=256&h=256&fit=cover").geometry(4000, 3000);
    assert_eq!(g.size, (256, 256));
    assert_eq!(g.crop, (500.0, 0.0, 3000.0, 3000.0));
    let g = t("w=256&h=256&fit=fill").geometry(4000, 3000);
    assert_eq!(g.size, (256, 256));
    assert_eq!(g.crop, (0.0, 0.0, 4000.0, 3000.0));
    let g = t("w=256&h=256&fit=contain").geometry(4000, 3000);
    assert_eq!(g.size, (256, 192));
    assert_eq!(
        g.canvas,
        Some(Canvas {
            width: 256,
            height: 256,
            left: 0,
            top: 32
        })
    );
    assert_eq!(g.output_size(), (256, 256));
    assert_eq!(t("w=100").geometry(400, 300).size, (100, 75));
    assert_eq!(t("h=100").geometry(400, 300).size, (133, 100));
}

#[test]
fn nothing_is_enlarged_unless_asked() {
    let t = |q: &str| parse(q).unwrap().unwrap();
    assert_eq!(t("w=800").geometry(400, 300).size, (400, 300));
    assert_eq!(t("w=800&enlarge=true").geometry(400, 300).size, (800, 600));
    assert_eq!(t("w=800&h=800").geometry(400, 300).size, (400, 300));
    let g = t("w=800&h=100&fit=cover").geometry(400, 300);
    assert_eq!(g.size, (400, 100));
    assert_eq!(g.crop, (0.0, 100.0, 400.0, 100.0));
    assert_eq!(
        t("w=800&h=800&fit=fill").geometry(400, 300).size,
        (400, 300)
    );
    let g = t("w=800&h=800&fit=contain").geometry(400, 300);
    assert_eq!((g.size, g.output_size()), ((400, 300), (800, 800)));
}

#[test]
fn renditions_are_named_with_their_extension() {
    assert_eq!(
        rendition_name("photo.jpeg", ImageFormat::Webp),
        "photo.webp"
    );
    assert_eq!(
        rendition_name("archive.tar.png", ImageFormat::Jpeg),
        "archive.tar.jpg"
    );
    assert_eq!(rendition_name("noext", ImageFormat::Png), "noext.png");
    assert_eq!(rendition_name(".hidden", ImageFormat::Png), ".hidden.png");
}
