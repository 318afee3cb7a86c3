output "api_url" {
  description = "HTTPS URL of the API."
  value       = module.quantrun.api_url
}

output "worker_url" {
  description = "HTTPS URL of the worker."
  value       = module.quantrun.worker_url
}

output "image_repository" {
  description = "Where Cloud Build pushes images."
  value       = module.quantrun.image_repository
}

output "function_source_bucket" {
  description = "Where the deploy step uploads function sources."
  value       = module.quantrun.function_source_bucket
}

output "uploads_bucket" {
  description = "Drop price files under uploads/ here."
  value       = module.quantrun.uploads_bucket
}
