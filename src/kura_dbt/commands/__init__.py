"""Sub-commands of the `kura` CLI that live in their own modules (registered in kura_dbt.cli)."""
