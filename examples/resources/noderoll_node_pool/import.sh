# Import an existing local pool by <state_dir>/<name>, or by <name> for a pool
# in the provider's local.state_dir. Add :<port> when its nodes do not serve
# on port 8080, so the import can tell serving nodes from booting ones.
terraform import noderoll_node_pool.web .noderoll/web
terraform import noderoll_node_pool.web /var/lib/noderoll/web:9090

# Adopt an EC2 Auto Scaling group by aws_asg:[<region>/]<group_name>. The
# pool's name is the group name without its "noderoll-" prefix.
terraform import noderoll_node_pool.api aws_asg:eu-west-1/noderoll-api
