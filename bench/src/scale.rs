//! Scale: 1,000,000 file rows, then random reads and filtered keyset pages.

use crate::report::Report;
use crate::scenarios::Ctx;
use crate::wrk::Wrk;

/// Inserts `rows` file rows straight into Trove's database (the bulk path), then reads random ones
/// and filtered keyset pages over HTTP.
pub(crate) async fn scale(ctx: &Ctx, report: &mut Report) -> anyhow::Result<()> {
    let scenario = format!(
        "scale: GET /v1/files/{{id}} among 1M rows (8 clients){}",
        ctx.label
    );
    let rows = ctx.plan.rows;
    println!("{scenario}: inserting {rows} rows");
    let now = chrono::Utc::now().timestamp_millis();
    let ids = match &ctx.database_url {
        Some(url) => insert_postgres(url, rows, now).await?,
        None => insert_sqlite(ctx, rows, now).await?,
    };
    let token = format!("Bearer {}", ctx.token);
    let sample = ids.len().min(20_000);
    let step = (ids.len() / sample.max(1)).max(1);
    let reads: Vec<String> = (0..sample)
        .map(|i| format!("/v1/files/{}", ids[(i * step + i * 7919) % ids.len()]))
        .collect();
    let rounds = ctx.plan.rounds;
    let run = |paths: Vec<String>, clients: usize, scenario: String| {
        let token = token.clone();
        async move {
            let (mut v, mut f, mut rps) = (Vec::new(), 0, Vec::new());
            for _ in 0..rounds {
                let s = Wrk {
                    base: &ctx.trove.url,
                    paths: &paths,
                    connections: clients,
                    seconds: ctx.plan.seconds,
                    method: "GET",
                    headers: vec![("Authorization", token.clone())],
                    body: None,
                }
                .run(&ctx.work.join("wrk-scale"))
                .await?;
                v.push(s.p99_ms);
                rps.push(s.rps());
                f += s.failures;
            }
            anyhow::Ok((scenario, v, f, rps))
        }
    };
    let mut results = vec![run(reads, 8, scenario.clone()).await?];
    // A filtered page of 50 at a random keyset position, as a client paging through would ask:
    // alone (the latency of one page) and with 8 clients (under load, sharing the 2 cores).
    let pages: Vec<String> = (0..sample)
        .map(|n| {
            let i = (n * 104_729 + n * step) % ids.len();
            let cursor = trove_core::listing::Cursor {
                order_by: trove_core::listing::OrderBy::CreatedAt,
                descending: true,
                value: trove_core::listing::CursorValue::Int(now + i as i64),
                id: trove_core::FileId::parse(&ids[i]).unwrap_or_default(),
            };
            format!(
                "/v1/files?bucketId=bench&mimeType=application/octet-stream&minSize=1&limit=50&cursor={}",
                cursor.encode()
            )
        })
        .collect();
    for clients in [1usize, 8] {
        let name = format!(
            "scale: GET /v1/files?…&limit=50 among 1M rows, {clients} client(s){}",
            ctx.label
        );
        results.push(run(pages.clone(), clients, name).await?);
    }
    for (scenario, v, f, rps) in results {
        let p = report.add(
            &scenario,
            "trove",
            "p99 ms",
            v,
            f,
            vec![("req/s".into(), rps)],
        );
        report.bar(&scenario, "p99 < 10 ms", p, p < 10.0);
    }
    Ok(())
}

/// Rows in SQLite, 500 to a statement, as Trove's own writes leave them; then the planner's
/// statistics, as Trove refreshes them when it starts.
async fn insert_sqlite(ctx: &Ctx, rows: u64, now: i64) -> anyhow::Result<Vec<String>> {
    let url = format!("sqlite://{}", ctx.data.join("trove.db").display());
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await?;
    let mut ids = Vec::with_capacity(rows as usize);
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
    // Statistics for the planner, as Trove refreshes them when it starts.
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await?;
    trove_meta::sqlite::refresh_planner_statistics(&pool)
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    pool.close().await;
    Ok(ids)
}

/// Rows in PostgreSQL, 50,000 to a statement through arrays, then `ANALYZE`.
async fn insert_postgres(url: &str, rows: u64, now: i64) -> anyhow::Result<Vec<String>> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await?;
    let mut ids = Vec::with_capacity(rows as usize);
    const BATCH: u64 = 50_000;
    let mut inserted = 0u64;
    while inserted < rows {
        let n = BATCH.min(rows - inserted);
        let batch: Vec<uuid::Uuid> = (0..n).map(|_| trove_core::FileId::new().0).collect();
        let names: Vec<String> = (0..n)
            .map(|i| format!("row-{}.bin", inserted + i))
            .collect();
        let times: Vec<chrono::DateTime<chrono::Utc>> = (0..n)
            .map(|i| trove_core::time::from_millis(now + (inserted + i) as i64))
            .collect();
        sqlx::query(
            "INSERT INTO files (id, bucket_id, name, mime_type, size, etag, status, metadata, \
             visibility, access, tenant_id, uploaded_by_user_id, created_at, updated_at) \
             SELECT id, 'bench', name, 'application/octet-stream', 4096, '\"x\"', 'ready', '{}', \
             'private', 'owner', 'bench', 'bench-user', t, t \
             FROM UNNEST($1::uuid[], $2::text[], $3::timestamptz[]) AS r (id, name, t)",
        )
        .bind(&batch)
        .bind(&names)
        .bind(&times)
        .execute(&pool)
        .await?;
        inserted += n;
        ids.extend(batch.iter().map(|u| u.to_string()));
    }
    sqlx::query("ANALYZE files").execute(&pool).await?;
    pool.close().await;
    Ok(ids)
}
