//! Image previews: a 256 × 256 `cover` WebP thumbnail of a 12-megapixel JPEG, computed by Trove
//! (each request a file not yet thumbnailed) against Debian's `vipsthumbnail` making the same
//! thumbnail from the same file, 2 at a time; the stored thumbnail served again (wrk) against nginx
//! serving the same bytes; and Trove's peak RSS while 8 thumbnails of 24-megapixel JPEGs are asked
//! for at once.

use std::io::Cursor;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use image::codecs::jpeg::JpegEncoder;
use image::{ImageEncoder, RgbImage};

use crate::load::{self, Amount, drain};
use crate::procs::{self, Proc};
use crate::report::Report;
use crate::scenarios::{Ctx, ratio_bar};
use crate::wrk::Wrk;

const THUMB: &str = "w=256&h=256&fit=cover&format=webp&q=80";

/// A photograph-like JPEG (smooth gradients, fine texture) of `w` × `h` at quality 90.
fn photo(w: u32, h: u32) -> anyhow::Result<Vec<u8>> {
    let mut seed = 0x9e37_79b9_u32;
    let img = RgbImage::from_fn(w, h, |x, y| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let grain = (seed & 15) as u8;
        image::Rgb([
            ((x * 255 / w) as u8).saturating_add(grain),
            ((y * 255 / h) as u8).saturating_add(grain),
            (((x / 7) ^ (y / 5)) & 0xff) as u8,
        ])
    });
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut Cursor::new(&mut out), 90).write_image(
        img.as_raw(),
        w,
        h,
        image::ExtendedColorType::Rgb8,
    )?;
    Ok(out)
}

async fn upload(ctx: &Ctx, bytes: &[u8], name: &str) -> anyhow::Result<String> {
    let res = ctx
        .client
        .post(format!(
            "{}/v1/files?bucketId=bench&name={name}",
            ctx.trove.url
        ))
        .bearer_auth(&ctx.token)
        .header("content-type", "image/jpeg")
        .body(bytes.to_vec())
        .send()
        .await?;
    if res.status() != 201 {
        bail!("uploading {name}: {}", res.status());
    }
    let file: serde_json::Value = res.json().await?;
    file["id"]
        .as_str()
        .map(str::to_owned)
        .context("an uploaded file has an id")
}

/// Thumbnails per second from `vipsthumbnail`, `workers` processes at a time, `each` apiece.
async fn vips_rate(dir: &Path, original: &Path, workers: usize, each: u64) -> anyhow::Result<f64> {
    let start = Instant::now();
    let mut running = Vec::new();
    for w in 0..workers {
        let (dir, original) = (dir.to_owned(), original.to_owned());
        running.push(tokio::spawn(async move {
            for i in 0..each {
                let out = dir.join(format!("vips-{w}-{i}.webp[Q=80,strip]"));
                let status = tokio::process::Command::new("vipsthumbnail")
                    .arg(&original)
                    .args(["--size", "256x256", "--smartcrop", "centre", "-o"])
                    .arg(&out)
                    .status()
                    .await?;
                if !status.success() {
                    bail!("vipsthumbnail failed: {status}");
                }
            }
            Ok(())
        }));
    }
    for r in running {
        r.await??;
    }
    Ok((workers as u64 * each) as f64 / start.elapsed().as_secs_f64())
}

pub(crate) async fn images(
    ctx: &Ctx,
    nginx: &Proc,
    nginx_root: &Path,
    report: &mut Report,
) -> anyhow::Result<()> {
    let (w12, h12, w24, h24) = if ctx.plan.smoke {
        (800, 600, 1200, 800)
    } else {
        (4000, 3000, 6000, 4000)
    };
    let dir = ctx.work.join("images");
    std::fs::create_dir_all(&dir)?;
    let original = photo(w12, h12)?;
    let original_path = dir.join("photo.jpg");
    std::fs::write(&original_path, &original)?;
    let each: u64 = if ctx.plan.smoke { 2 } else { 8 };
    const WORKERS: usize = 2;

    let scenario = "thumbnail computed (12 MP JPEG → 256² WebP, 2 clients)";
    println!("{scenario}: {} rounds", ctx.plan.rounds);
    let (mut tv, mut vv, mut tf) = (Vec::new(), Vec::new(), 0);
    let mut last = None;
    for round in 0..ctx.plan.rounds {
        // Files not thumbnailed yet: every request computes.
        let mut urls = Vec::new();
        for i in 0..WORKERS as u64 * each {
            let id = upload(ctx, &original, &format!("photo-{round}-{i}.jpg")).await?;
            urls.push(format!("{}/v1/files/{id}/content?{THUMB}", ctx.trove.url));
        }
        last = urls.last().cloned();
        let (client, token) = (ctx.client.clone(), ctx.token.clone());
        let urls = std::sync::Arc::new(urls);
        let s = load::run(WORKERS, Amount::Each(each), move |w, i| {
            let url = urls[w * each as usize + i as usize].clone();
            let req = client.get(url).bearer_auth(&token).send();
            async move {
                match req.await {
                    Ok(res) => drain(res).await,
                    Err(_) => load::Outcome {
                        ok: false,
                        bytes: 0,
                    },
                }
            }
        })
        .await;
        tv.push(s.rps());
        tf += s.failures;
        vv.push(vips_rate(&dir, &original_path, WORKERS, each).await?);
    }
    let t = report.add(scenario, "trove", "thumbnails/s", tv, tf, vec![]);
    let v = report.add(scenario, "vipsthumbnail", "thumbnails/s", vv, 0, vec![]);
    ratio_bar(report, scenario, "vipsthumbnail", t, v, 0.3);

    // The stored thumbnail, served again, against nginx serving its bytes.
    let scenario = "thumbnail cached (256² WebP, 32 clients)";
    println!(
        "{scenario}: {} rounds of {}s",
        ctx.plan.rounds, ctx.plan.seconds
    );
    let url = last.context("a thumbnail was asked for")?;
    let thumb = ctx
        .client
        .get(&url)
        .bearer_auth(&ctx.token)
        .send()
        .await?
        .bytes()
        .await?;
    std::fs::create_dir_all(nginx_root.join("thumbs"))?;
    std::fs::write(nginx_root.join("thumbs/t.webp"), &thumb)?;
    let path = url.trim_start_matches(&ctx.trove.url).to_owned();
    let (mut tv, mut nv, mut tf, mut nf) = (Vec::new(), Vec::new(), 0, 0);
    let wrk_dir = ctx.work.join("wrk-thumbs");
    for _ in 0..ctx.plan.rounds {
        let s = Wrk {
            base: &ctx.trove.url,
            paths: std::slice::from_ref(&path),
            connections: 32,
            seconds: ctx.plan.seconds,
            method: "GET",
            headers: vec![("Authorization", format!("Bearer {}", ctx.token))],
            body: None,
        }
        .run(&wrk_dir)
        .await?;
        tv.push(s.rps());
        tf += s.failures;
        let s = Wrk {
            base: &nginx.url,
            paths: &["/thumbs/t.webp".to_owned()],
            connections: 32,
            seconds: ctx.plan.seconds,
            method: "GET",
            headers: vec![],
            body: None,
        }
        .run(&wrk_dir)
        .await?;
        nv.push(s.rps());
        nf += s.failures;
    }
    let t = report.add(scenario, "trove", "req/s", tv, tf, vec![]);
    let n = report.add(scenario, "nginx", "req/s", nv, nf, vec![]);
    // The small-download bar.
    ratio_bar(report, scenario, "nginx", t, n, 0.5);

    // Memory: 8 thumbnails of 24-megapixel JPEGs asked for at once.
    let scenario = "thumbnails of 24 MP JPEGs (8 at once)";
    println!("{scenario}");
    let big = photo(w24, h24)?;
    let mut urls = Vec::new();
    for i in 0..8 {
        let id = upload(ctx, &big, &format!("big-{i}.jpg")).await?;
        urls.push(format!("{}/v1/files/{id}/content?{THUMB}", ctx.trove.url));
    }
    procs::reset_peak_rss(ctx.trove.pid());
    let (client, token) = (ctx.client.clone(), ctx.token.clone());
    let urls = std::sync::Arc::new(urls);
    let s = load::run(8, Amount::Each(1), move |w, _| {
        let req = client.get(urls[w].clone()).bearer_auth(&token).send();
        async move {
            match req.await {
                Ok(res) => drain(res).await,
                Err(_) => load::Outcome {
                    ok: false,
                    bytes: 0,
                },
            }
        }
    })
    .await;
    let peak = procs::peak_rss_kib(ctx.trove.pid()).unwrap_or(0) as f64 / 1024.0;
    report.add(
        scenario,
        "trove",
        "thumbnails/s",
        vec![s.rps()],
        s.failures,
        vec![],
    );
    report.bar(scenario, "peak RSS < 512 MiB", peak, peak < 512.0);
    Ok(())
}
