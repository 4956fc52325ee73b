function showTab(id){
  document.querySelectorAll('section.panel').forEach(function(s){s.classList.toggle('active', s.id===id);});
  document.querySelectorAll('.tabs button').forEach(function(b){b.classList.toggle('active', b.dataset.target===id);});
}
function sortTable(th){
  var table=th.closest('table'), body=table.tBodies[0], idx=Array.prototype.indexOf.call(th.parentNode.children, th);
  var asc=th.dataset.dir!=='asc'; th.parentNode.querySelectorAll('th').forEach(function(h){delete h.dataset.dir;});
  th.dataset.dir=asc?'asc':'desc';
  var rows=Array.prototype.slice.call(body.rows);
  rows.sort(function(a,b){
    var x=a.cells[idx].dataset.v, y=b.cells[idx].dataset.v;
    var xn=(x===undefined||x===''), yn=(y===undefined||y==='');
    if(xn||yn){ if(xn&&yn){x=a.cells[idx].textContent; y=b.cells[idx].textContent; return asc?x.localeCompare(y):y.localeCompare(x);} return xn?1:-1; }
    return asc?(parseFloat(x)-parseFloat(y)):(parseFloat(y)-parseFloat(x));
  });
  rows.forEach(function(r){body.appendChild(r);});
}
document.addEventListener('DOMContentLoaded', function(){
  document.querySelectorAll('th').forEach(function(th){th.addEventListener('click', function(){sortTable(th);});});
  document.querySelectorAll('.tabs button').forEach(function(b){b.addEventListener('click', function(){showTab(b.dataset.target);});});
  var first=document.querySelector('.tabs button'); if(first){showTab(first.dataset.target);}
});
