output "email" {
  description = "The service account's email."
  value       = google_service_account.this.email
}

output "member" {
  description = "IAM member string (serviceAccount:...)."
  value       = "serviceAccount:${google_service_account.this.email}"
}

output "id" {
  description = "Fully qualified id of the service account."
  value       = google_service_account.this.id
}
