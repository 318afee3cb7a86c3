output "api_url" {
  description = "HTTPS URL of the API."
  value       = module.api.uri
}

output "worker_url" {
  description = "HTTPS URL of the worker (push endpoint base and OIDC audience)."
  value       = local.worker_url
}

output "image_repository" {
  description = "Artifact Registry path for service images."
  value       = local.image_base
}

output "cloudsql_connection_name" {
  description = "Cloud SQL instance connection name."
  value       = module.database.connection_name
}

output "artifacts_bucket" {
  description = "Artifacts bucket."
  value       = module.data.artifacts_bucket
}

output "uploads_bucket" {
  description = "Uploads bucket (drop price files under uploads/)."
  value       = module.data.uploads_bucket
}

output "function_source_bucket" {
  description = "Bucket the deploy step uploads function zips to."
  value       = google_storage_bucket.function_source.name
}

output "edge_address" {
  description = "IP address of the edge load balancer (null without edge_domain)."
  value       = var.edge_domain == null ? null : module.edge[0].address
}

output "monitoring_dashboard_id" {
  description = "The Cloud Monitoring dashboard of this environment."
  value       = module.monitoring.dashboard_id
}
