output "topic_id" {
  description = "Jobs topic id."
  value       = google_pubsub_topic.jobs.id
}

output "dead_letter_topic_id" {
  description = "Dead-letter topic id."
  value       = google_pubsub_topic.dead_letter.id
}

output "subscription_name" {
  description = "Push subscription name."
  value       = google_pubsub_subscription.push.name
}

output "push_service_account_email" {
  description = "The OIDC identity of pushes (the worker checks it)."
  value       = var.push_service_account_email
}

output "long_jobs_subscription_name" {
  description = "Pull subscription of the long-jobs topic."
  value       = google_pubsub_subscription.long_jobs_pull.name
}
