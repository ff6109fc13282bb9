"""Small building blocks shared by Hemi's units."""
