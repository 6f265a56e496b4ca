"""Security controls from the seed's privacy assessment (section III), as working code."""
