-- Monthly safety reports (平安报表月报): a PDF and an XLSX per region and
-- month, made on the schedule (the 15th, 08:00 Asia/Shanghai, for every
-- county and city) or on request. Making one again replaces its files.
CREATE TABLE monthly_reports (
    id           INTEGER PRIMARY KEY,
    region_code  TEXT NOT NULL,       -- 12 digits
    region_name  TEXT NOT NULL,
    level        TEXT NOT NULL,       -- city or county
    month        TEXT NOT NULL,       -- YYYY-MM, Asia/Shanghai
    made_at      INTEGER NOT NULL,
    made_by      INTEGER REFERENCES accounts(id),  -- null: scheduler or CLI
    origin       TEXT NOT NULL,       -- schedule, request or cli
    overall      TEXT NOT NULL,       -- the region's warning colour that month
    pdf          BLOB NOT NULL,
    pdf_pages    INTEGER NOT NULL,
    xlsx         BLOB NOT NULL,
    UNIQUE (region_code, month)
);
CREATE INDEX monthly_reports_month ON monthly_reports(month, region_code);
