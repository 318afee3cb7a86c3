resource "google_bigquery_dataset" "this" {
  project                    = var.project_id
  dataset_id                 = var.dataset_id
  location                   = var.location
  description                = "QuantRun market data"
  delete_contents_on_destroy = false

  dynamic "default_encryption_configuration" {
    for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
    content {
      kms_key_name = default_encryption_configuration.value
    }
  }
}

resource "google_bigquery_table" "prices" {
  #checkov:skip=CKV_GCP_80:Google-managed encryption by default; set kms_key_name on the dataset for CMEK (Cloud KMS cost and key custody are a per-deployment choice).
  project             = var.project_id
  dataset_id          = google_bigquery_dataset.this.dataset_id
  table_id            = "prices"
  deletion_protection = true

  time_partitioning {
    type  = "DAY"
    field = "date"
  }
  clustering = ["symbol"]

  schema = jsonencode([
    { name = "date", type = "DATE", mode = "REQUIRED" },
    { name = "symbol", type = "STRING", mode = "REQUIRED" },
    { name = "open", type = "FLOAT64", mode = "NULLABLE" },
    { name = "high", type = "FLOAT64", mode = "NULLABLE" },
    { name = "low", type = "FLOAT64", mode = "NULLABLE" },
    { name = "close", type = "FLOAT64", mode = "REQUIRED" },
    { name = "adj_close", type = "FLOAT64", mode = "NULLABLE" },
    { name = "volume", type = "INT64", mode = "NULLABLE" },
    { name = "source", type = "STRING", mode = "NULLABLE" },
    { name = "ingested_at", type = "TIMESTAMP", mode = "NULLABLE" },
  ])
}

resource "google_bigquery_table" "instrument_names" {
  #checkov:skip=CKV_GCP_80:Google-managed encryption by default; set kms_key_name on the dataset for CMEK (Cloud KMS cost and key custody are a per-deployment choice).
  project             = var.project_id
  dataset_id          = google_bigquery_dataset.this.dataset_id
  table_id            = "instrument_names"
  deletion_protection = true
  schema = jsonencode([
    { name = "symbol", type = "STRING", mode = "REQUIRED" },
    { name = "name", type = "STRING", mode = "REQUIRED" },
  ])
}

# Instruments managed through the API (CONTRACT 6.2): scheduled ingest fetches the
# active ones; the ingest symbols variable only seeds them.
resource "google_bigquery_table" "instruments" {
  #checkov:skip=CKV_GCP_80:Google-managed encryption by default; set kms_key_name on the dataset for CMEK (Cloud KMS cost and key custody are a per-deployment choice).
  project             = var.project_id
  dataset_id          = google_bigquery_dataset.this.dataset_id
  table_id            = "instruments"
  deletion_protection = true
  schema = jsonencode([
    { name = "symbol", type = "STRING", mode = "REQUIRED" },
    { name = "name", type = "STRING", mode = "REQUIRED" },
    { name = "asset_type", type = "STRING", mode = "REQUIRED" },
    { name = "exchange", type = "STRING", mode = "NULLABLE" },
    { name = "currency", type = "STRING", mode = "REQUIRED" },
    { name = "active", type = "BOOL", mode = "REQUIRED" },
    { name = "updated_at", type = "TIMESTAMP", mode = "REQUIRED" },
  ])
}

# Dividends and splits (CONTRACT 6.2), from providers that report them and from
# actions.csv uploads; prices are adjusted from them when read.
resource "google_bigquery_table" "corporate_actions" {
  #checkov:skip=CKV_GCP_80:Google-managed encryption by default; set kms_key_name on the dataset for CMEK (Cloud KMS cost and key custody are a per-deployment choice).
  project             = var.project_id
  dataset_id          = google_bigquery_dataset.this.dataset_id
  table_id            = "corporate_actions"
  deletion_protection = true
  clustering          = ["symbol"]
  schema = jsonencode([
    { name = "symbol", type = "STRING", mode = "REQUIRED" },
    { name = "date", type = "DATE", mode = "REQUIRED" },
    { name = "kind", type = "STRING", mode = "REQUIRED" },
    { name = "value", type = "FLOAT64", mode = "REQUIRED" },
    { name = "source", type = "STRING", mode = "REQUIRED" },
    { name = "ingested_at", type = "TIMESTAMP", mode = "REQUIRED" },
  ])
}

resource "google_bigquery_table" "ingest_runs" {
  #checkov:skip=CKV_GCP_80:Google-managed encryption by default; set kms_key_name on the dataset for CMEK (Cloud KMS cost and key custody are a per-deployment choice).
  project             = var.project_id
  dataset_id          = google_bigquery_dataset.this.dataset_id
  table_id            = "ingest_runs"
  deletion_protection = true

  time_partitioning {
    type  = "DAY"
    field = "run_at"
  }

  schema = jsonencode([
    { name = "run_id", type = "STRING", mode = "REQUIRED" },
    { name = "symbol", type = "STRING", mode = "NULLABLE" },
    { name = "source", type = "STRING", mode = "NULLABLE" },
    { name = "status", type = "STRING", mode = "NULLABLE" },
    { name = "detail", type = "STRING", mode = "NULLABLE" },
    { name = "run_at", type = "TIMESTAMP", mode = "REQUIRED" },
    { name = "fetched", type = "INT64", mode = "NULLABLE" },
    { name = "inserted", type = "INT64", mode = "NULLABLE" },
    { name = "updated", type = "INT64", mode = "NULLABLE" },
    { name = "unchanged", type = "INT64", mode = "NULLABLE" },
    { name = "rejected", type = "INT64", mode = "NULLABLE" },
  ])
}

resource "google_bigquery_table" "provider_calls" {
  #checkov:skip=CKV_GCP_80:Google-managed encryption by default; set kms_key_name on the dataset for CMEK (Cloud KMS cost and key custody are a per-deployment choice).
  # One row per market-data provider asked for a symbol (or per file loaded): what
  # GET /v1/market-data/status summarises over the last 30 days.
  project             = var.project_id
  dataset_id          = google_bigquery_dataset.this.dataset_id
  table_id            = "provider_calls"
  deletion_protection = true
  clustering          = ["provider"]

  time_partitioning {
    type          = "DAY"
    field         = "called_at"
    expiration_ms = 90 * 24 * 60 * 60 * 1000
  }

  schema = jsonencode([
    { name = "run_id", type = "STRING", mode = "REQUIRED" },
    { name = "provider", type = "STRING", mode = "REQUIRED" },
    { name = "symbol", type = "STRING", mode = "NULLABLE" },
    { name = "outcome", type = "STRING", mode = "REQUIRED" },
    { name = "detail", type = "STRING", mode = "NULLABLE" },
    { name = "called_at", type = "TIMESTAMP", mode = "REQUIRED" },
    { name = "requests", type = "INT64", mode = "NULLABLE" },
    { name = "throttled", type = "INT64", mode = "NULLABLE" },
    { name = "retry_after_seconds", type = "FLOAT64", mode = "NULLABLE" },
  ])
}

resource "google_bigquery_dataset_iam_member" "readers" {
  for_each   = toset(var.dataset_readers)
  project    = var.project_id
  dataset_id = google_bigquery_dataset.this.dataset_id
  role       = "roles/bigquery.dataViewer"
  member     = each.value
}

resource "google_bigquery_dataset_iam_member" "writers" {
  for_each   = toset(var.dataset_writers)
  project    = var.project_id
  dataset_id = google_bigquery_dataset.this.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = each.value
}

# Running queries is a project-level permission (jobs are billed to the project).
resource "google_project_iam_member" "job_users" {
  for_each = toset(distinct(concat(var.dataset_readers, var.dataset_writers)))
  project  = var.project_id
  role     = "roles/bigquery.jobUser"
  member   = each.value
}

resource "google_storage_bucket" "artifacts" {
  #checkov:skip=CKV_GCP_62:Access logs go to Cloud Audit Logs (data access logs enabled per project); a second log bucket adds cost without new information.
  project                     = var.project_id
  name                        = var.artifacts_bucket_name
  location                    = var.location
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      age = var.artifact_retention_days
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 7
    }
    action {
      type = "Delete"
    }
  }
}

resource "google_storage_bucket" "uploads" {
  #checkov:skip=CKV_GCP_62:Access logs go to Cloud Audit Logs (data access logs enabled per project); a second log bucket adds cost without new information.
  project                     = var.project_id
  name                        = var.uploads_bucket_name
  location                    = var.location
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      age = 90
    }
    action {
      type = "Delete"
    }
  }
}

# Writers create artifacts and read them back (a retry compares bytes): no delete, no
# overwrite; a retried attempt writes under attempt-<n>/ (quantrun.domain.artifacts).
resource "google_storage_bucket_iam_member" "artifact_writers" {
  for_each = {
    for pair in setproduct(var.artifact_writers, ["roles/storage.objectCreator", "roles/storage.objectViewer"]) :
    "${pair[0]} ${pair[1]}" => { member = pair[0], role = pair[1] }
  }
  bucket = google_storage_bucket.artifacts.name
  role   = each.value.role
  member = each.value.member
}

resource "google_storage_bucket_iam_member" "artifact_readers" {
  for_each = toset(var.artifact_readers)
  bucket   = google_storage_bucket.artifacts.name
  role     = "roles/storage.objectViewer"
  member   = each.value
}

resource "google_storage_bucket_iam_member" "upload_processors" {
  for_each = toset(var.upload_processors)
  bucket   = google_storage_bucket.uploads.name
  role     = "roles/storage.objectAdmin"
  member   = each.value
}
