"""`gemmadoc review`: a static review site over an output folder, and reviewers' decisions back into
a `reviews` table."""
