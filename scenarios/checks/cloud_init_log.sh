# The first lines of cloud-init's log that verify_clean_boot refuses, as
# "N:text"; the marker line when there is no log to read.
if [ -r /var/log/cloud-init.log ]; then
    grep -n -E 'WARNING|Traceback' /var/log/cloud-init.log | head -n 5
else
    echo 'drivelab: no readable /var/log/cloud-init.log'
fi
