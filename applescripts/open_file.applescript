-- Opens a file (found with Spotlight by the backend) in its default app.
-- argv: the file's POSIX path. Prints the path back.
on run argv
	set thePath to item 1 of argv
	set theFile to (POSIX file thePath) as alias
	tell application "Finder"
		open theFile
		activate
	end tell
	return thePath
end run
