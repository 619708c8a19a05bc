# Sisimai's reading of bounce files: a second opinion on tests/it/bounces.rs's manifest.
# Prints one tab-separated line per recipient Sisimai finds: file, address, reason, softbounce
# (1 soft, 0 hard, -1 not a bounce), or "file - none" when it finds no bounce in the file.
# Usage: perl sisimai.pl FILE...
use strict;
use warnings;
use Sisimai;

print "version\t$Sisimai::VERSION\n";
for my $path (@ARGV) {
    my $found = Sisimai->make($path, 'delivered' => 1, 'vacation' => 1) || [];
    print join("\t", $path, '-', 'none', ''), "\n" unless @$found;
    for my $e (@$found) {
        print join("\t", $path, $e->recipient->address, $e->reason, $e->softbounce), "\n";
    }
}
