"""Reading photos: image loading, photo checks, the sticker's QR code, barcodes."""
