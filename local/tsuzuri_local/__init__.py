"""tsuzuri on your machine: the `tsuzuri` command, `tsuzuri dev` (moto's server, the
event pumps and the preview server) and provisioning from template.yaml.

Never part of the Lambda layer: the layer build copies only the `tsuzuri` package.
"""
