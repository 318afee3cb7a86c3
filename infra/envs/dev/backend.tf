# State in a Cloud Storage bucket you create once (see README, "Deploying"):
#   terraform init -backend-config="bucket=<project>-tfstate"
terraform {
  backend "gcs" {
    prefix = "quantrun/dev"
  }
}
