provider "google" {
  project = var.project_id
  region  = var.region
}

module "quantrun" {
  source                     = "../../modules/platform"
  project_id                 = var.project_id
  environment                = "prod"
  region                     = var.region
  data_location              = var.data_location
  api_image                  = var.api_image
  worker_image               = var.worker_image
  api_min_instances          = 1
  worker_min_instances       = 1
  worker_max_instances       = 100
  database_tier              = "db-custom-2-7680"
  database_high_availability = true
  deletion_protection        = true
  notification_channels      = var.notification_channels
}
