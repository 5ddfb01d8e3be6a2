"""The scaler: carries out scaling commands on local processes or a Kubernetes Deployment."""
