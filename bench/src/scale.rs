//! Scale: 1,000,000 file rows, then random reads and filtered keyset pages.

use std::sync::Arc;
use std::time::Duration;

use crate::load::{self, Amount};
use crate::report::Report;
use crate::scenarios::{Ctx, metadata_load, outcome};

/// Inserts `rows` file rows straight into Trove's SQLite database (the bulk path), then reads
/// random ones over HTTP.
pub(crate) async fn scale(ctx: &Ctx, report: &mut Report) -> anyhow::Result<()> {
    let scenario = "scale: GET /v1/files/{id} among 1M rows";
    let rows = ctx.plan.rows;
    println!("{scenario}: inserting {rows} rows");
    let url = format!("sqlite://{}", ctx.data.join("trove.db").display());
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await?;
    let mut ids = Vec::with_capacity(rows as usize);
    let now = chrono::Utc::now().timestamp_millis();
    const BATCH: u64 = 500;
    let mut tx = pool.begin().await?;
    let mut inserted = 0u64;
    while inserted < rows {
        let n = BATCH.min(rows - inserted);
        let mut sql = String::from(
            "INSERT INTO files (id, bucket_id, name, mime_type, size, etag, status, metadata, visibility, access, \
             tenant_id, uploaded_by_user_id, checksum_sha256, revision, created_at, updated_at) VALUES ",
        );
        let mut batch_ids = Vec::with_capacity(n as usize);
        for i in 0..n {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str("(?, 'bench', ?, 'application/octet-stream', 4096, '\"x\"', 'ready', '{}', 'private', 'owner', 'bench', 'bench-user', NULL, NULL, ?, ?)");
            batch_ids.push(trove_core::FileId::new().to_string());
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (i, id) in batch_ids.iter().enumerate() {
            let t = now + (inserted + i as u64) as i64;
            q = q
                .bind(id.clone())
                .bind(format!("row-{}.bin", inserted + i as u64))
                .bind(t)
                .bind(t);
        }
        q.execute(&mut *tx).await?;
        inserted += n;
        ids.extend(batch_ids);
        if inserted.is_multiple_of(100_000) {
            tx.commit().await?;
            tx = pool.begin().await?;
        }
    }
    tx.commit().await?;
    pool.close().await;
    let ids = Arc::new(ids);
    let d = Duration::from_secs_f64(ctx.plan.seconds);
    let (mut v, mut f, mut p99) = (Vec::new(), 0, Vec::new());
    for _ in 0..ctx.plan.rounds {
        let s = metadata_load(ctx, ids.clone(), 8, d).await;
        v.push(s.p99_ms);
        p99.push(s.rps());
        f += s.failures;
    }
    let p = report.add(
        scenario,
        "trove",
        "p99 ms",
        v,
        f,
        vec![("req/s".into(), p99)],
    );
    report.bar(scenario, "p99 < 10 ms", p, p < 10.0);

    // A filtered page of 50 at a random keyset position, as a client paging through would ask:
    // alone (the latency of one page) and with 8 clients (under load, sharing the 2 cores).
    for clients in [1usize, 8] {
        // A filtered page of 50 at a random keyset position, as a client paging through would ask.
        let scenario =
            format!("scale: GET /v1/files?…&limit=50 among 1M rows, {clients} client(s)");
        let scenario = scenario.as_str();
        let (mut v, mut f, mut rps) = (Vec::new(), 0, Vec::new());
        for _ in 0..ctx.plan.rounds {
            let (client, base, token, ids) = (
                ctx.client.clone(),
                ctx.trove.url.clone(),
                ctx.token.clone(),
                ids.clone(),
            );
            let s = load::run(clients, Amount::For(d), move |w, n| {
            let i = (w * 7919 + n as usize * 104_729) % ids.len();
            let cursor = trove_core::listing::Cursor {
                order_by: trove_core::listing::OrderBy::CreatedAt,
                descending: true,
                value: trove_core::listing::CursorValue::Int(now + i as i64),
                id: trove_core::FileId::parse(&ids[i]).unwrap_or_default(),
            };
            let url = format!(
                "{base}/v1/files?bucketId=bench&mimeType=application/octet-stream&minSize=1&limit=50&cursor={}",
                cursor.encode()
            );
            let req = client.get(url).bearer_auth(&token).send();
            async move { outcome(req.await).await }
        })
        .await;
            v.push(s.p99_ms);
            rps.push(s.rps());
            f += s.failures;
        }
        let p = report.add(
            scenario,
            "trove",
            "p99 ms",
            v,
            f,
            vec![("req/s".into(), rps)],
        );
        report.bar(scenario, "p99 < 10 ms", p, p < 10.0);
    }
    Ok(())
}
