output "dataset_id" {
  description = "BigQuery dataset id."
  value       = google_bigquery_dataset.this.dataset_id
}

output "prices_table_id" {
  description = "Fully qualified prices table id."
  value       = google_bigquery_table.prices.id
}

output "artifacts_bucket" {
  description = "Artifacts bucket name."
  value       = google_storage_bucket.artifacts.name
}

output "uploads_bucket" {
  description = "Uploads bucket name."
  value       = google_storage_bucket.uploads.name
}
