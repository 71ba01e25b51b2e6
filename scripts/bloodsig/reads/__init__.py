"""From FASTQ to counts: FASTQ checks, the external tools' wrappers, strandedness."""
