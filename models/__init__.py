"""The shipped model (cleaner-model.joblib) and its JSON sidecar."""
