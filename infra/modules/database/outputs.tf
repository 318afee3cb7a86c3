output "connection_name" {
  description = "PROJECT:REGION:INSTANCE, for QUANTRUN_CLOUDSQL_INSTANCE."
  value       = google_sql_database_instance.this.connection_name
}

output "database_name" {
  description = "Database name."
  value       = google_sql_database.this.name
}

output "iam_users" {
  description = "Database user names of the service accounts."
  value       = [for u in google_sql_user.iam : u.name]
}

output "instance_name" {
  description = "The instance's name (Cloud Monitoring's database_id is PROJECT:NAME)."
  value       = google_sql_database_instance.this.name
}
