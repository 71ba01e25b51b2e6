"""The `connectivity` stage: core genes, the LINCS/CMap signature store and the CMap scores."""
