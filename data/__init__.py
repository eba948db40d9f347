"""The tables of mlimpact (see README.md here); a package only so that the wheel carries them."""
