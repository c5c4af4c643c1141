//! Storage of the monthly safety reports (平安报表月报): the PDF and XLSX
//! made for a city or county and a month, listed by region subtree.
use async_trait::async_trait;
use pingan_domain::Scope;
use serde::Serialize;

use crate::{Page, Result};

/// A report to keep; it replaces any earlier one of the same region and month.
#[derive(Debug, Clone)]
pub struct NewMonthlyReport {
    pub region_code: String,
    pub region_name: String,
    /// `city` or `county`.
    pub level: String,
    /// `YYYY-MM`.
    pub month: String,
    pub made_at: i64,
    pub made_by: Option<i64>,
    /// `schedule`, `request` or `cli`.
    pub origin: String,
    /// The region's overall warning colour that month.
    pub overall: String,
    pub pdf: Vec<u8>,
    pub pdf_pages: i64,
    pub xlsx: Vec<u8>,
}

/// A stored report without its files.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonthlyReport {
    pub id: i64,
    pub region_code: String,
    pub region_name: String,
    pub level: String,
    pub month: String,
    pub made_at: i64,
    pub made_by: Option<i64>,
    pub origin: String,
    pub overall: String,
    pub pdf_pages: i64,
    pub pdf_bytes: i64,
    pub xlsx_bytes: i64,
}

/// Which of a report's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFile {
    Pdf,
    Xlsx,
}

#[async_trait]
pub trait ReportStore {
    /// Keeps a report, replacing the region's report of that month.
    async fn save_monthly_report(&self, report: &NewMonthlyReport) -> Result<MonthlyReport>;
    /// Reports of regions in `scope`, newest month first, then by region
    /// code; optionally of one month. The cursor is `YYYY-MM/region_code`.
    async fn monthly_reports(
        &self,
        scope: &Scope,
        month: Option<&str>,
        page: &Page,
    ) -> Result<Vec<MonthlyReport>>;
    async fn monthly_report(&self, scope: &Scope, id: i64) -> Result<Option<MonthlyReport>>;
    async fn monthly_report_file(
        &self,
        scope: &Scope,
        id: i64,
        file: ReportFile,
    ) -> Result<Option<Vec<u8>>>;
    /// The region codes that have a report of this month.
    async fn monthly_report_regions(&self, month: &str) -> Result<Vec<String>>;
}

macro_rules! report_impl {
    ($store:ty, $db:ty) => {
        const REPORT_COLUMNS: &str = "id, region_code, region_name, level, month, made_at, made_by, origin, \
            overall, pdf_pages, CAST(LENGTH(pdf) AS BIGINT) AS pdf_bytes, CAST(LENGTH(xlsx) AS BIGINT) AS xlsx_bytes";

        fn report_row(row: &<$db as sqlx::Database>::Row) -> crate::Result<crate::reports::MonthlyReport> {
            use sqlx::Row;
            Ok(crate::reports::MonthlyReport {
                id: row.try_get("id")?,
                region_code: row.try_get("region_code")?,
                region_name: row.try_get("region_name")?,
                level: row.try_get("level")?,
                month: row.try_get("month")?,
                made_at: row.try_get("made_at")?,
                made_by: row.try_get("made_by")?,
                origin: row.try_get("origin")?,
                overall: row.try_get("overall")?,
                pdf_pages: row.try_get("pdf_pages")?,
                pdf_bytes: row.try_get::<i64, _>("pdf_bytes")?,
                xlsx_bytes: row.try_get::<i64, _>("xlsx_bytes")?,
            })
        }

        #[async_trait::async_trait]
        impl crate::reports::ReportStore for $store {
            async fn save_monthly_report(
                &self,
                r: &crate::reports::NewMonthlyReport,
            ) -> crate::Result<crate::reports::MonthlyReport> {
                let mut tx = self.writer.begin().await?;
                let row = sqlx::query(&format!(
                    "INSERT INTO monthly_reports (region_code, region_name, level, month, made_at, made_by, \
                     origin, overall, pdf, pdf_pages, xlsx) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                     ON CONFLICT (region_code, month) DO UPDATE SET region_name = excluded.region_name, \
                     level = excluded.level, made_at = excluded.made_at, made_by = excluded.made_by, \
                     origin = excluded.origin, overall = excluded.overall, pdf = excluded.pdf, \
                     pdf_pages = excluded.pdf_pages, xlsx = excluded.xlsx RETURNING {REPORT_COLUMNS}"
                ))
                .bind(&r.region_code)
                .bind(&r.region_name)
                .bind(&r.level)
                .bind(&r.month)
                .bind(r.made_at)
                .bind(r.made_by)
                .bind(&r.origin)
                .bind(&r.overall)
                .bind(&r.pdf)
                .bind(r.pdf_pages)
                .bind(&r.xlsx)
                .fetch_one(&mut *tx)
                .await?;
                let saved = report_row(&row)?;
                tx.commit().await?;
                Ok(saved)
            }

            async fn monthly_reports(
                &self,
                scope: &pingan_domain::Scope,
                month: Option<&str>,
                page: &crate::Page,
            ) -> crate::Result<Vec<crate::reports::MonthlyReport>> {
                let (lo, hi) = crate::queries::prefix_range(scope.prefix());
                let mut q = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {REPORT_COLUMNS} FROM monthly_reports WHERE region_code >= "
                ));
                q.push_bind(lo).push(" AND region_code < ").push_bind(hi);
                if let Some(m) = month {
                    q.push(" AND month = ").push_bind(m.to_string());
                }
                if let Some((m, code)) = page.after.as_deref().and_then(|a| a.split_once('/')) {
                    q.push(" AND (month < ").push_bind(m.to_string());
                    q.push(" OR (month = ").push_bind(m.to_string());
                    q.push(" AND region_code > ").push_bind(code.to_string()).push("))");
                }
                q.push(" ORDER BY month DESC, region_code LIMIT ").push_bind(page.limit());
                q.build()
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(report_row)
                    .collect()
            }

            async fn monthly_report(
                &self,
                scope: &pingan_domain::Scope,
                id: i64,
            ) -> crate::Result<Option<crate::reports::MonthlyReport>> {
                let row = sqlx::query(&format!("SELECT {REPORT_COLUMNS} FROM monthly_reports WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row
                    .map(|r| report_row(&r))
                    .transpose()?
                    .filter(|r| scope.covers(&r.region_code)))
            }

            async fn monthly_report_file(
                &self,
                scope: &pingan_domain::Scope,
                id: i64,
                file: crate::reports::ReportFile,
            ) -> crate::Result<Option<Vec<u8>>> {
                use sqlx::Row;
                let column = match file {
                    crate::reports::ReportFile::Pdf => "pdf",
                    crate::reports::ReportFile::Xlsx => "xlsx",
                };
                let row = sqlx::query(&format!(
                    "SELECT region_code, {column} AS body FROM monthly_reports WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                match row {
                    Some(r) if scope.covers(&r.try_get::<String, _>("region_code")?) => {
                        Ok(Some(r.try_get("body")?))
                    }
                    _ => Ok(None),
                }
            }

            async fn monthly_report_regions(&self, month: &str) -> crate::Result<Vec<String>> {
                use sqlx::Row;
                sqlx::query("SELECT region_code FROM monthly_reports WHERE month = $1 ORDER BY region_code")
                    .bind(month)
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(|r| Ok(r.try_get("region_code")?))
                    .collect()
            }
        }
    };
}
pub(crate) use report_impl;
