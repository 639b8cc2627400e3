package registry

import (
	"net/netip"
	"slices"

	"github.com/agoraproject/agora/api/v1/maintenance"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// Machines under maintenance (Mesos' MachineInfo.Mode):
//
//	             update_schedule            start_maintenance
//	(UP, absent) --------------> DRAINING ---------------------> DOWN
//	       ^   <--------------                                    |
//	       |   left out of a new schedule                         |
//	       '------------------------------------------------------'
//	                         stop_maintenance
//
// A DOWN machine may not be left out of a new schedule.

func (w *writer) updateSchedule(op *Operation_UpdateSchedule) *OpError {
	sched := op.GetSchedule()
	scheduled, err := checkSchedule(sched)
	if err != nil {
		return err
	}
	for _, m := range (&State{machines: w.s.machines}).Machines() {
		if m.GetMode() == Machine_DOWN && !scheduled[keyOfMachine(m.GetId())] {
			return conflictf("machine %s is down: stop its maintenance before unscheduling it", describeMachine(m.GetId()))
		}
	}
	machines := own(w, &w.s.machines)
	for k := range w.s.machines {
		if !scheduled[k] {
			remove(w, machines, k)
		}
	}
	for _, win := range sched.GetWindows() {
		for _, id := range win.GetMachineIds() {
			k := keyOfMachine(id)
			mode := Machine_DRAINING
			if old := machines[k]; old != nil {
				mode = old.GetMode()
			}
			set(w, machines, k, &Machine{Id: id, Mode: mode.Enum(), Unavailability: win.GetUnavailability()})
		}
	}
	assign(w, &w.s.schedule, sched)
	return nil
}

// checkSchedule accepts windows that each name machines, with no machine
// named twice, and returns the scheduled machines.
func checkSchedule(sched *maintenance.Schedule) (map[machineKey]bool, *OpError) {
	scheduled := map[machineKey]bool{}
	for i, win := range sched.GetWindows() {
		if len(win.GetMachineIds()) == 0 {
			return nil, invalidf("window %d names no machines", i)
		}
		if win.GetUnavailability().GetDuration().GetNanoseconds() < 0 {
			return nil, invalidf("window %d has a negative duration", i)
		}
		for _, id := range win.GetMachineIds() {
			if err := checkMachineID(id); err != nil {
				return nil, err
			}
			k := keyOfMachine(id)
			if scheduled[k] {
				return nil, invalidf("machine %s is scheduled twice", describeMachine(id))
			}
			scheduled[k] = true
		}
	}
	return scheduled, nil
}

func (w *writer) startMaintenance(op *Operation_StartMaintenance) *OpError {
	targets, err := w.maintenanceTargets(op.GetMachines())
	if err != nil {
		return err
	}
	machines := own(w, &w.s.machines)
	for _, m := range targets {
		if m.GetMode() == Machine_DOWN {
			return conflictf("machine %s is already down", describeMachine(m.GetId()))
		}
		set(w, machines, keyOfMachine(m.GetId()), &Machine{Id: m.Id, Mode: Machine_DOWN.Enum(), Unavailability: m.Unavailability})
	}
	return nil
}

func (w *writer) stopMaintenance(op *Operation_StopMaintenance) *OpError {
	targets, err := w.maintenanceTargets(op.GetMachines())
	if err != nil {
		return err
	}
	stopped := map[machineKey]bool{}
	machines := own(w, &w.s.machines)
	for _, m := range targets {
		if m.GetMode() != Machine_DOWN {
			return conflictf("machine %s is not down", describeMachine(m.GetId()))
		}
		k := keyOfMachine(m.GetId())
		stopped[k] = true
		remove(w, machines, k)
	}
	assign(w, &w.s.schedule, unschedule(w.s.schedule, stopped))
	return nil
}

// maintenanceTargets returns the scheduled machines that ids name.
func (w *writer) maintenanceTargets(ids []*mesos.MachineID) ([]*Machine, *OpError) {
	if len(ids) == 0 {
		return nil, invalidf("no machines given")
	}
	seen := map[machineKey]bool{}
	out := make([]*Machine, 0, len(ids))
	for _, id := range ids {
		if err := checkMachineID(id); err != nil {
			return nil, err
		}
		k := keyOfMachine(id)
		if seen[k] {
			return nil, invalidf("machine %s is named twice", describeMachine(id))
		}
		seen[k] = true
		m := w.s.machines[k]
		if m == nil {
			return nil, notFoundf("machine %s is not scheduled for maintenance", describeMachine(id))
		}
		out = append(out, m)
	}
	return out, nil
}

// unschedule returns sched without the given machines and without the
// windows left empty.
func unschedule(sched *maintenance.Schedule, drop map[machineKey]bool) *maintenance.Schedule {
	next := &maintenance.Schedule{}
	for _, win := range sched.GetWindows() {
		ids := slices.DeleteFunc(slices.Clone(win.GetMachineIds()), func(id *mesos.MachineID) bool {
			return drop[keyOfMachine(id)]
		})
		if len(ids) > 0 {
			next.Windows = append(next.Windows, &maintenance.Window{MachineIds: ids, Unavailability: win.GetUnavailability()})
		}
	}
	return next
}

func checkMachineID(id *mesos.MachineID) *OpError {
	if id.GetHostname() == "" && id.GetIp() == "" {
		return invalidf("a machine ID needs a hostname or an IP")
	}
	if ip := id.GetIp(); ip != "" {
		if _, err := netip.ParseAddr(ip); err != nil {
			return invalidf("machine %s: %q is not an IP address", describeMachine(id), ip)
		}
	}
	return nil
}

func describeMachine(id *mesos.MachineID) string {
	switch {
	case id.GetIp() == "":
		return id.GetHostname()
	case id.GetHostname() == "":
		return id.GetIp()
	}
	return id.GetHostname() + " (" + id.GetIp() + ")"
}
