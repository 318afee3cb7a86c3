output "address" {
  description = "The load balancer's IP address (point the domain's A record at it)."
  value       = google_compute_global_address.api.address
}

output "security_policy" {
  description = "The Cloud Armor policy's id."
  value       = google_compute_security_policy.api.id
}
